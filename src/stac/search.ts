/**
 * A STAC API item search for a time series: POST <url>/search with the fields' extent as
 * `intersects`, the request's collections, datetime, query or filter and limit, following `next`
 * links (STAC API item-search: a POST link with `body`, merged into the last body when `merge`
 * is true, or a GET href) up to MAX_SEARCH_PAGES pages and MAX_SEARCH_ITEMS items. A search that
 * would pass either cap fails the job rather than make a series of part of the season.
 *
 * The items become dates: items of one acquisition (the same `datetime`, e.g. neighbouring
 * MGRS tiles) form one date.
 */
import { z } from "@hono/zod-openapi";
import { boxPolygon } from "../bounds";
import type { StacSearchRequest } from "../db/jobs";
import { ApiError } from "../errors/api-error";
import { fetchRemoteJson, type RemoteAccess, remoteHref } from "../raster/remote";
import { parseItem, type SourceItem, stacProblem, type WantedAssets } from "./source-item";

/** Pages of one search followed at most. */
export const MAX_SEARCH_PAGES = 10;
/** Items of one search used at most. */
export const MAX_SEARCH_ITEMS = 1000;
/** Bytes of one item or search page: Earth Search's pages of 100 items are some 600 KiB. */
export const MAX_STAC_DOCUMENT_BYTES = 1_048_576;

export const StacSearchSchema = z
	.strictObject({
		url: remoteHref.openapi({
			description: "The STAC API's root (its item search is POST <url>/search)",
			example: "https://earth-search.aws.element84.com/v1",
		}),
		collections: z
			.array(z.string().min(1).max(256))
			.min(1)
			.max(10)
			.optional()
			.openapi({ example: ["sentinel-2-l2a"] }),
		datetime: z.string().min(1).max(100).optional().openapi({
			description: "An RFC 3339 instant or interval, as STAC item search takes it",
			example: "2026-04-01T00:00:00Z/2026-09-30T23:59:59Z",
		}),
		query: z
			.record(z.string(), z.record(z.string(), z.unknown()))
			.optional()
			.openapi({
				description: "The Query extension's filter (give this or filter)",
				example: { "eo:cloud_cover": { lt: 40 } },
			}),
		filter: z
			.record(z.string(), z.unknown())
			.optional()
			.openapi({
				description: "A CQL2-JSON filter (the Filter extension; give this or query)",
				example: { op: "<", args: [{ property: "eo:cloud_cover" }, 40] },
			}),
		limit: z
			.number()
			.int()
			.min(1)
			.max(1000)
			.optional()
			.openapi({ description: "Items per page the API is asked for", example: 100 }),
	})
	.refine((search) => search.query === undefined || search.filter === undefined, {
		message: "give query or filter, not both",
		path: ["filter"],
	})
	.openapi("StacSearch", {
		description: `A STAC API search whose items make a zonal_statistics time series, with the fields' extent as intersects; at most ${MAX_SEARCH_PAGES} pages and ${MAX_SEARCH_ITEMS} items`,
	});

/** The search body: the request's fields with the fields' extent as a Polygon. */
function searchBody(
	search: StacSearchRequest,
	bbox: readonly [number, number, number, number],
): Record<string, unknown> {
	return {
		intersects: boxPolygon(bbox),
		...(search.collections ? { collections: search.collections } : {}),
		...(search.datetime ? { datetime: search.datetime } : {}),
		...(search.query ? { query: search.query } : {}),
		...(search.filter ? { filter: search.filter, "filter-lang": "cql2-json" } : {}),
		...(search.limit ? { limit: search.limit } : {}),
	};
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The page's next request: a POST body (merged or whole) or a GET href, which resolves against
 * the page's own URL (`pageUrl`) as any link does; null on the last page. An href that does not
 * resolve is kept as given, for the caller to refuse.
 */
function nextRequest(
	page: Record<string, unknown>,
	body: Record<string, unknown>,
	pageUrl: string,
): { href: string; body?: Record<string, unknown> } | null {
	const links = Array.isArray(page.links) ? page.links.filter(isObject) : [];
	const next = links.find((link) => link.rel === "next" && typeof link.href === "string");
	if (!next) return null;
	const href = URL.parse(next.href as string, pageUrl)?.href ?? (next.href as string);
	if (typeof next.method === "string" && next.method.toUpperCase() === "POST") {
		const given = isObject(next.body) ? next.body : {};
		return { href, body: next.merge === true ? { ...body, ...given } : given };
	}
	return { href };
}

/**
 * Every item the search finds within the caps, in the order the API gave them, or a problem
 * naming `stac_search`; each keeps only the assets `wanted` can match. Fetch failures are thrown
 * as RemoteReadErrors (retried when passing).
 */
export async function searchItems(
	search: StacSearchRequest,
	bbox: readonly [number, number, number, number],
	access: RemoteAccess,
	wanted: WantedAssets,
): Promise<SourceItem[] | ApiError> {
	const items: SourceItem[] = [];
	let body = searchBody(search, bbox);
	let request: { href: string; body?: Record<string, unknown> } | null = {
		href: `${search.url.replace(/\/+$/, "")}/search`,
		body,
	};
	for (let page = 0; request; page++) {
		if (page === MAX_SEARCH_PAGES) {
			return stacProblem(
				"stac_search",
				`the search has more than ${MAX_SEARCH_PAGES} pages; narrow its datetime, query or filter`,
			);
		}
		const parsed = remoteHref.safeParse(request.href);
		if (!parsed.success) {
			const why = parsed.error.issues[0]?.message ?? "not a URL";
			return stacProblem("stac_search", `its next link ${request.href} cannot be followed: ${why}`);
		}
		const answer = await fetchRemoteJson(parsed.data, access, MAX_STAC_DOCUMENT_BYTES, request.body);
		if (!isObject(answer) || answer.type !== "FeatureCollection" || !Array.isArray(answer.features)) {
			return stacProblem("stac_search.url", "the search did not answer with an ItemCollection");
		}
		for (const feature of answer.features) {
			// Relative asset hrefs resolve against the item's own URL, which a search states as its self link.
			const links = isObject(feature) && Array.isArray(feature.links) ? feature.links.filter(isObject) : [];
			const self = links.find((link) => link.rel === "self" && typeof link.href === "string");
			const url = (self && URL.parse(self.href as string, parsed.data)?.href) || parsed.data;
			const item = parseItem(feature, url, "stac_search", wanted);
			if (item instanceof ApiError) return item;
			if (item.datetime === null) return stacProblem("stac_search", `item ${item.id} has no datetime`);
			items.push(item);
		}
		if (items.length > MAX_SEARCH_ITEMS) {
			return stacProblem(
				"stac_search",
				`the search found more than ${MAX_SEARCH_ITEMS} items; narrow its datetime, query or filter`,
			);
		}
		if (request.body) body = request.body;
		request = nextRequest(answer, body, parsed.data);
	}
	return items;
}

/**
 * What names an item among a search's: its collection and id. Only an item without an id falls
 * back to its URL, which for an item without a self link is its page's, shared with its neighbours.
 */
function itemIdentity(item: SourceItem): string {
	return item.id === "" ? `url:${item.url}` : `id:${item.collection ?? ""}/${item.id}`;
}

/**
 * The items grouped into acquisitions (one datetime each), in chronological order; an item that
 * several pages list is used once.
 */
export function acquisitions(items: readonly SourceItem[]): { datetime: string; items: SourceItem[] }[] {
	const byInstant = new Map<number, { datetime: string; items: SourceItem[] }>();
	for (const item of items) {
		if (item.datetime === null) throw new Error(`item ${item.id} has no datetime`);
		const instant = Date.parse(item.datetime);
		const group = byInstant.get(instant);
		if (group) {
			const identity = itemIdentity(item);
			if (!group.items.some((other) => itemIdentity(other) === identity)) group.items.push(item);
		} else byInstant.set(instant, { datetime: item.datetime, items: [item] });
	}
	return [...byInstant.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}
