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

/** Encodes and decodes the cursors of rows whose ids have `prefix` (job, fld). */
export function pageCursors(prefix: string) {
	const pattern = new RegExp(`^(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z)\\|(${prefix}_[0-9a-f]{24})$`);
	return {
		encode(cursor: PageCursor): string {
			return btoa(`${cursor.createdAt}|${cursor.id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
		},
		decode(text: string): PageCursor | null {
			let decoded: string;
			try {
				decoded = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
			} catch {
				return null;
			}
			const match = pattern.exec(decoded);
			return match?.[1] && match[2] ? { createdAt: match[1], id: match[2] } : null;
		},
	};
}

/** The `limit` and `cursor` query parameters of a list of `rows` (e.g. "Jobs"). */
export function pageQuery(rows: string, cursors: ReturnType<typeof pageCursors>, example: string | null) {
	return {
		limit: z.coerce
			.number()
			.int()
			.min(1)
			.max(MAX_PAGE_LIMIT)
			.default(DEFAULT_PAGE_LIMIT)
			.openapi({ param: { name: "limit", in: "query" }, description: `${rows} per page`, example: DEFAULT_PAGE_LIMIT }),
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
