/** GET /v1/fields: the tenant's field sets, newest first, a page at a time. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listTenantFieldSets } from "../../db/field-sets";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { fieldSetListExample } from "./examples";
import { pageCursors, pageQuery } from "./paging";
import { FieldSetSchema, renderFieldSet } from "./schemas";

const cursors = pageCursors("fld");

const FieldSetListQuery = z.object({
	...pageQuery("Field sets", cursors, fieldSetListExample.next),
});

const FieldSetListSchema = z
	.object({
		field_sets: z.array(FieldSetSchema),
		next: z.string().nullable().openapi({
			description: "Pass as `cursor` for the next page; null on the last page",
			example: fieldSetListExample.next,
		}),
	})
	.openapi("FieldSetList");

export const listFieldSetsRoute = createRoute({
	method: "get",
	path: "/v1/fields",
	operationId: "listFieldSets",
	tags: ["fields"],
	summary: "List sets of fields",
	description:
		"The tenant's field sets, newest first, at most `limit` per page. Follow `next` until it is null; sets stored meanwhile do not shift the pages already served.",
	middleware: [requireScope("fields:read")] as const,
	security: bearerWith("fields:read"),
	request: { query: FieldSetListQuery },
	responses: {
		200: {
			description: "A page of field sets",
			headers: keyedHeaders,
			content: { "application/json": { schema: FieldSetListSchema, example: fieldSetListExample } },
		},
		...problemResponses(401, 403, 422, 429),
	},
});

export function registerListFieldSets(app: App): void {
	app.openapi(listFieldSetsRoute, async function listFieldSets(c) {
		const { limit, cursor } = c.req.valid("query");
		const after = cursor === undefined ? null : cursors.decode(cursor);
		const page = await listTenantFieldSets(c.env.DB, c.get("principal").tenantId, { after, limit });
		return c.json(
			{ field_sets: page.fieldSets.map(renderFieldSet), next: page.next ? cursors.encode(page.next) : null },
			200,
		);
	});
}
