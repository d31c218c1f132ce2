/** GET /v1/indices/{id}: one index of the catalog, its id matched case-insensitively. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { ApiError } from "../../errors/api-error";
import { problemResponses, tracedHeaders } from "../../errors/openapi";
import { findIndex, matchingIndexIds } from "../../indices/registry";
import { indexExample } from "./examples";
import { IndexSchema, renderIndex } from "./schemas";

const IndexIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Index id, case-insensitive; an id that names no index answers 404",
		example: "ndvi",
	}),
});

export const getIndexRoute = createRoute({
	method: "get",
	path: "/v1/indices/{id}",
	operationId: "getIndex",
	tags: ["indices"],
	summary: "Describe one index",
	request: { params: IndexIdParam },
	responses: {
		200: {
			description: "The index",
			headers: tracedHeaders,
			content: { "application/json": { schema: IndexSchema, example: indexExample } },
		},
		...problemResponses(404),
	},
});

export function registerGetIndex(app: App): void {
	app.openapi(getIndexRoute, function getIndex(c) {
		const { id } = c.req.valid("param");
		const index = findIndex(id);
		if (!index) {
			const matches = matchingIndexIds(id);
			throw new ApiError(
				"not-found",
				matches.length > 1
					? `'${id}' matches ${matches.join(" and ")}, which differ only in case; use the exact id.`
					: `No index '${id}'; GET /v1/indices lists them.`,
			);
		}
		return c.json(renderIndex(index), 200);
	});
}
