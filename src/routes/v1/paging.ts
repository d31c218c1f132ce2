/**
 * Paging of the tenant's lists (GET /v1/jobs, GET /v1/fields), newest first: a cursor is the last
 * row of a page, (created_at, id), base64url-encoded, so it is opaque to clients and rows stored
 * meanwhile never shift a page; and the `limit` and `cursor` query parameters.
 */
import { z } from "@hono/zod-openapi";

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

export interface PageCursor {
	createdAt: string;
	id: string;
}

/** A cursor's text as clients see it: base64url, so it is opaque and safe in a query string. */
export function encodeCursor(text: string): string {
	return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The text of a cursor, or null when it is not one this API wrote. */
export function decodeCursor(cursor: string): string | null {
	try {
		return atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
	} catch {
		return null;
	}
}

/** Encodes and decodes the cursors of rows whose ids have `prefix` (job, fld). */
export function pageCursors(prefix: string) {
	const pattern = new RegExp(`^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z)\\|(${prefix}_[0-9a-f]{24})$`);
	return {
		encode: (cursor: PageCursor) => encodeCursor(`${cursor.createdAt}|${cursor.id}`),
		decode(text: string): PageCursor | null {
			const match = pattern.exec(decodeCursor(text) ?? "");
			return match?.[1] && match[2] ? { createdAt: match[1], id: match[2] } : null;
		},
	};
}

/** The `limit` query parameter of a list of `rows` (e.g. "Jobs"). */
export function pageLimit(rows: string) {
	return z.coerce
		.number()
		.int()
		.min(1)
		.max(MAX_PAGE_LIMIT)
		.default(DEFAULT_PAGE_LIMIT)
		.openapi({ param: { name: "limit", in: "query" }, description: `${rows} per page`, example: DEFAULT_PAGE_LIMIT });
}

/** The `limit` and `cursor` query parameters of a list of `rows` (e.g. "Jobs"). */
export function pageQuery(rows: string, cursors: ReturnType<typeof pageCursors>, example: string | null) {
	return {
		limit: pageLimit(rows),
		cursor: z
			.string()
			.refine((text) => cursors.decode(text) !== null, "must be the `next` of an earlier page")
			.optional()
			.openapi({
				param: { name: "cursor", in: "query" },
				description: "The `next` of the previous page; the first page without it",
				example,
			}),
	};
}
