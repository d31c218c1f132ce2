/** GET /v1/indices: the catalog's indices, filtered by domain, band or text. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { problemResponses, tracedHeaders } from "../../errors/openapi";
import { bandNames, indexDomains, indices } from "../../indices/registry";
import { indexListExample } from "./examples";
import { IndexSchema, renderIndex } from "./schemas";

const IndexFilterQuery = z.object({
	domain: z
		.enum(indexDomains as [string, ...string[]])
		.optional()
		.openapi({ param: { name: "domain", in: "query" }, example: "vegetation" }),
	band: z
		.enum(bandNames as [string, ...string[]])
		.optional()
		.openapi({
			param: { name: "band", in: "query" },
			description: "Only indices that read this band",
			example: "swir16",
		}),
	q: z
		.string()
		.optional()
		.openapi({
			param: { name: "q", in: "query" },
			description: "Case-insensitive text in the id, name or formula",
			example: "burn",
		}),
});

export const listIndicesRoute = createRoute({
	method: "get",
	path: "/v1/indices",
	operationId: "listIndices",
	tags: ["indices"],
	summary: "List the available indices",
	request: { query: IndexFilterQuery },
	responses: {
		200: {
			description: "Every index that matches all the filters given",
			headers: tracedHeaders,
			content: {
				"application/json": {
					schema: z.object({ indices: z.array(IndexSchema) }).openapi("IndexList"),
					example: indexListExample,
				},
			},
		},
		...problemResponses(422),
	},
});

export function registerListIndices(app: App): void {
	app.openapi(listIndicesRoute, function listIndices(c) {
		const { domain, band, q } = c.req.valid("query");
		const text = q?.toLowerCase();
		const matches = [...indices.values()].filter(
			(index) =>
				(domain === undefined || index.domain === domain) &&
				(band === undefined || index.bands.includes(band)) &&
				(text === undefined ||
					[index.id, index.name, index.formula].some((field) => field.toLowerCase().includes(text))),
		);
		return c.json({ indices: matches.map(renderIndex) }, 200);
	});
}
