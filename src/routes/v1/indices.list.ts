/** GET /v1/indices: the indices available, generated from the index registry. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { problemResponses } from "../../errors/openapi";
import { indices } from "../../indices/registry";
import { indexListExample } from "./examples";

const IndexSchema = z
	.object({
		id: z.string().openapi({ example: "ndvi" }),
		name: z.string().openapi({ example: "Normalized Difference Vegetation Index" }),
		formula: z.string().openapi({ example: "(nir - red) / (nir + red)" }),
		bands: z.array(z.string()).openapi({ example: ["nir", "red"] }),
		domain: z.string().openapi({ example: "vegetation" }),
		reference: z.string().openapi({ example: "https://ntrs.nasa.gov/citations/19740022614" }),
	})
	.openapi("Index");

export const listIndicesRoute = createRoute({
	method: "get",
	path: "/v1/indices",
	operationId: "listIndices",
	tags: ["indices"],
	summary: "List the available indices",
	responses: {
		200: {
			description: "Every index a job can compute",
			content: {
				"application/json": {
					schema: z.object({ indices: z.array(IndexSchema) }).openapi("IndexList"),
					example: indexListExample,
				},
			},
		},
		...problemResponses(),
	},
});

export function registerListIndices(app: App): void {
	app.openapi(listIndicesRoute, function listIndices(c) {
		return c.json(
			{
				indices: [...indices.values()].map(({ id, name, formula, bands, domain, reference }) => ({
					id,
					name,
					formula,
					bands: [...bands],
					domain,
					reference,
				})),
			},
			200,
		);
	});
}
