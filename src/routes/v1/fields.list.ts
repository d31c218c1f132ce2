/** GET /v1/fields: the tenant's field sets, newest first, a page at a time. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { type FieldSetCursor, listTenantFieldSets } from "../../db/field-sets";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { fieldSetListExample } from "./examples";
import { FieldSetSchema, renderFieldSet } from "./schemas";

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
const CURSOR_PATTERN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(fld_[0-9a-f]{24})$/;

/**
 * A cursor is the last set of a page, (created_at, id), base64url-encoded as GET /v1/jobs does:
 * opaque to clients, and sets stored meanwhile never shift a page.
 */
function encodeCursor(cursor: FieldSetCursor): string {
	return btoa(`${cursor.createdAt}|${cursor.id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(text: string): FieldSetCursor | null {
	let decoded: string;
	try {
		decoded = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
	} catch {
		return null;
	}
	const match = CURSOR_PATTERN.exec(decoded);
	return match?.[1] && match[2] ? { createdAt: match[1], id: match[2] } : null;
}

const FieldSetListQuery = z.object({
	limit: z.coerce
		.number()
		.int()
		.min(1)
		.max(MAX_LIMIT)
		.default(DEFAULT_LIMIT)
		.openapi({ param: { name: "limit", in: "query" }, description: "Field sets per page", example: DEFAULT_LIMIT }),
	cursor: z
		.string()
		.refine((text) => decodeCursor(text) !== null, "must be the `next` of an earlier page")
		.optional()
		.openapi({
			param: { name: "cursor", in: "query" },
			description: "The `next` of the previous page; the first page without it",
			example: fieldSetListExample.next,
		}),
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
		const after = cursor === undefined ? null : decodeCursor(cursor);
		const page = await listTenantFieldSets(c.env.DB, c.get("principal").tenantId, { after, limit });
		return c.json(
			{ field_sets: page.fieldSets.map(renderFieldSet), next: page.next ? encodeCursor(page.next) : null },
			200,
		);
	});
}
