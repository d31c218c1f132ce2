/**
 * A stand-in for the Internet in the workerd tests: miniflare routes every outbound fetch of
 * the worker here (vitest.config.ts). It serves files of test/fixtures as a COG host would,
 * with byte ranges, and misbehaves on request, as remote archives do:
 *   https://cogs.test/files/<fixture>          206 partial content for Range requests
 *   https://cogs.test/no-range/<fixture>       ignores Range: 200 with the whole file
 *   https://cogs.test/status/<code>/<name>     answers that status
 *   https://cogs.test/flaky/<token>/<fixture>  503 for the first request per token, then files
 *   https://cogs.test/slow/<fixture>           answers after SLOW_ANSWER_MS
 *   https://cogs.test/redirect?to=<url>        302 to <url>
 *   https://cogs.test/hops/<n>/<fixture>       n redirects (302), then the file
 *   https://cogs.test/long-body/<fixture>      206 with the right Content-Range, but 1 KiB more
 *                                              body than the range (Content-Length says so)
 *   https://cogs.test/stream-long/<fixture>    the same, streamed without a Content-Length
 *   https://cogs.test/corpus/<n>               case n of test/corpus/malformed-tiffs.ts, by ranges
 *   https://cogs.test/replaced/<token>/<fixture>  the file under a new ETag after the first request
 *                                              per token, as if replaced by another of its size
 *   https://cogs.test/retagged/<token>/<fixture>  the same as replaced/, on a server that
 *                                              ignores If-Match
 *   https://cogs.test/grown/<token>/<fixture>  no ETag, and one byte longer after the first
 *                                              request per token
 * Files are served with a strong ETag (but not grown/), and If-Match is honoured with 412.
 * mirror.cogs.test serves the same as cogs.test, as a second host for allowlists, and so does
 * 127.0.0.1:8000 (and localhost:8000), a partner's machine under ALLOW_LOOPBACK_URLS. STAC items are fixtures too
 * (https://cogs.test/files/stac/<item>.json), and a STAC API answers item searches:
 *   POST https://stac.test/api/search       the series items of test/fixtures/stac in two pages:
 *                                           the first ends in a POST `next` link (merge: true)
 *                                           whose body asks for the second; a body without a
 *                                           Polygon `intersects` or the sentinel-2-l2a
 *                                           collection finds nothing
 *   POST https://stac.test/tiles/search     the two tiles of 2026-05-19 (series-d2-west, -east), a page each
 *   POST https://stac.test/empty/search     finds nothing
 *   POST https://stac.test/flaky/<token>/search  503 for the first request per token, then as api/
 *   GET  https://stac.test/oversized        a JSON document of 2 MiB
 *   POST https://stac.test/tiles-one-page/search  both tiles of 2026-05-19 in one page, without self links
 *   POST https://stac.test/v1/relative/search  the series' first page, whose GET `next` is relative to
 *                                           the page's URL (search?page=2), answered by a GET there
 *   POST https://stac.test/bad-links/search  one item whose self link and the page's next link do not parse
 *   GET  https://stac.test/item/<variant>    s2-l2a-v1.1.json with absolute hrefs, changed as <variant>
 *                                           says (see ITEM_VARIANTS)
 * Any other host is unreachable: the fetch fails as a refused connection would.
 */
import { readFile } from "node:fs/promises";
import { CORPUS_FIXTURES, CORPUS_SEED, type MalformedCase, malformedTiffs } from "../corpus/malformed-tiffs.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const COG_HOST = "https://cogs.test";
export const SLOW_ANSWER_MS = 2_000;
const failedOnce = new Set<string>();
const requestedOnce = new Set<string>();

/** Whether `token` was asked for before (and remembers that it now has). */
function seenBefore(token: string): boolean {
	const seen = requestedOnce.has(token);
	requestedOnce.add(token);
	return seen;
}

async function fixture(path: string): Promise<Uint8Array<ArrayBuffer> | null> {
	if (path.split("/").includes("..")) return null;
	try {
		return Uint8Array.from(await readFile(new URL(path, FIXTURES)));
	} catch {
		return null;
	}
}

/** One byte range of `file` as RFC 9110 asks (a single `bytes=a-b`, `a-` or `-n`). */
function ranged(file: Uint8Array<ArrayBuffer>, range: string | null, etag: string | null = null): Response {
	const versioned: Record<string, string> = etag === null ? {} : { etag };
	const match = /^bytes=(\d*)-(\d*)$/.exec(range ?? "");
	if (!match) return new Response(file, { headers: { "accept-ranges": "bytes", ...versioned } });
	const [, first = "", last = ""] = match;
	const start = first === "" ? Math.max(0, file.length - Number(last)) : Number(first);
	const end = first === "" || last === "" ? file.length - 1 : Math.min(Number(last), file.length - 1);
	if (start >= file.length || end < start) {
		return new Response(null, { status: 416, headers: { "content-range": `bytes */${file.length}` } });
	}
	return new Response(file.slice(start, end + 1), {
		status: 206,
		headers: { "content-range": `bytes ${start}-${end}/${file.length}`, "accept-ranges": "bytes", ...versioned },
	});
}

let corpus: Promise<MalformedCase[]> | null = null;

function corpusCases(): Promise<MalformedCase[]> {
	corpus ??= (async () => {
		const entries = await Promise.all(
			CORPUS_FIXTURES.map(async (name) => [name, (await fixture(name)) ?? new Uint8Array(0)] as const),
		);
		return malformedTiffs(Object.fromEntries(entries), { seed: CORPUS_SEED });
	})();
	return corpus;
}

/** A 206 whose body runs 1 KiB past the range asked for. */
function overlong(file: Uint8Array<ArrayBuffer>, range: string | null, streamed: boolean): Response {
	const answer = ranged(file, range);
	const [, first = "0", last = "0"] = /^bytes (\d+)-(\d+)/.exec(answer.headers.get("content-range") ?? "") ?? [];
	const body = new Uint8Array(Number(last) - Number(first) + 1 + 1024);
	const headers = { "content-range": answer.headers.get("content-range") ?? "" };
	if (!streamed) {
		return new Response(body, { status: 206, headers: { ...headers, "content-length": String(body.length) } });
	}
	const stream = new ReadableStream<Uint8Array>({
		start(controller) {
			controller.enqueue(body);
			controller.close();
		},
	});
	return new Response(stream, { status: 206, headers });
}

/** The items of each search, by page: the series' three dates, or the two tiles of one acquisition. */
const SEARCH_PAGES: Record<string, string[][]> = {
	api: [["series-d1.json", "series-d2.json"], ["series-d3.json"]],
	flaky: [["series-d1.json", "series-d2.json"], ["series-d3.json"]],
	tiles: [["series-d2-west.json"], ["series-d2-east.json"]],
};

async function stacFixture(name: string): Promise<Record<string, unknown>> {
	return JSON.parse(new TextDecoder().decode((await fixture(`stac/${name}`)) ?? new Uint8Array())) as Record<
		string,
		unknown
	>;
}

type Item = { properties: Record<string, unknown>; assets: Record<string, { href: string }> };

/** Ways an item can hold what the fixtures do not: each changes s2-l2a-v1.1.json (hrefs made absolute). */
const ITEM_VARIANTS: Record<string, (item: Item) => void> = {
	"private-asset": (item) => {
		item.assets.red = { ...item.assets.red, href: "https://10.0.0.1/s2_red_256.tif" };
	},
	"credentials-asset": (item) => {
		item.assets.red = { ...item.assets.red, href: "https://user:secret@cogs.test/files/s2_red_256.tif" };
	},
	"plain-http-asset": (item) => {
		item.assets.red = { ...item.assets.red, href: "http://cogs.test/files/s2_red_256.tif" };
	},
	// STAC 1.1 lets a single band's fields stand on the asset itself, with no bands array.
	"asset-level-band": (item) => {
		const renamed: Item["assets"] = {};
		for (const [key, asset] of Object.entries(item.assets)) {
			const { bands, ...rest } = asset as { href: string; bands: Record<string, unknown>[] };
			const [band = {}] = bands;
			renamed[key === "red" ? "B04" : "B08"] = {
				...rest,
				"eo:common_name": band["eo:common_name"],
				nodata: band.nodata,
				data_type: band.data_type,
				"raster:scale": band.scale,
				"raster:offset": band.offset,
			} as { href: string };
		}
		item.assets = renamed;
	},
	"datetime-not-rfc3339": (item) => {
		item.properties.datetime = "12 June 2024, late morning";
	},
};

async function stacApi(request: Request, url: URL): Promise<Response> {
	const [, kind = "", ...rest] = url.pathname.split("/");
	if (kind === "item") {
		const change = ITEM_VARIANTS[rest[0] ?? ""];
		if (!change) return new Response(null, { status: 404 });
		const item = (await stacFixture("s2-l2a-v1.1.json")) as unknown as Item;
		for (const asset of Object.values(item.assets)) asset.href = new URL(asset.href, `${COG_HOST}/files/stac/`).href;
		change(item);
		return Response.json(item, { headers: { "content-type": "application/geo+json" } });
	}
	if (kind === "tiles-one-page" && request.method === "POST") {
		const features = await Promise.all(["series-d2-west.json", "series-d2-east.json"].map(stacFixture));
		for (const feature of features) feature.links = [];
		return Response.json({ type: "FeatureCollection", features, links: [] });
	}
	if (kind === "bad-links" && request.method === "POST") {
		const feature = await stacFixture("series-d1.json");
		feature.links = [{ rel: "self", href: "https://[not a host" }];
		const links = [{ rel: "next", href: "https://[not a host/search", method: "GET" }];
		return Response.json({ type: "FeatureCollection", features: [feature], links });
	}
	if (kind === "v1" && rest[0] === "relative") {
		const second = url.searchParams.get("page") === "2";
		if (second !== (request.method === "GET")) return new Response(null, { status: 404 });
		const names = second ? ["series-d3.json"] : ["series-d1.json", "series-d2.json"];
		const links = second ? [] : [{ rel: "next", href: "search?page=2", method: "GET" }];
		return Response.json({ type: "FeatureCollection", features: await Promise.all(names.map(stacFixture)), links });
	}
	if (kind === "oversized") {
		return Response.json({ type: "Feature", padding: "x".repeat(2 * 1024 * 1024) });
	}
	if (kind === "flaky") {
		const token = rest[0] ?? "";
		if (!failedOnce.has(`stac/${token}`)) {
			failedOnce.add(`stac/${token}`);
			return new Response("try again", { status: 503 });
		}
	}
	if (request.method !== "POST" || url.pathname.split("/").at(-1) !== "search")
		return new Response(null, { status: 404 });
	const body = (await request.json()) as Record<string, unknown>;
	const intersects = body.intersects as { type?: string } | undefined;
	const collections = body.collections as string[] | undefined;
	const matches = kind !== "empty" && intersects?.type === "Polygon" && collections?.includes("sentinel-2-l2a");
	const page = body.next === "2" ? 1 : 0;
	const names = matches ? (SEARCH_PAGES[kind]?.[page] ?? []) : [];
	const features = await Promise.all(
		names.map(
			async (name) =>
				JSON.parse(new TextDecoder().decode((await fixture(`stac/${name}`)) ?? new Uint8Array())) as unknown,
		),
	);
	const links =
		matches && page === 0 ? [{ rel: "next", href: url.href, method: "POST", body: { next: "2" }, merge: true }] : [];
	return Response.json(
		{ type: "FeatureCollection", features, links },
		{ headers: { "content-type": "application/geo+json" } },
	);
}

export async function remoteCogs(request: Request): Promise<Response> {
	const url = new URL(request.url);
	if (url.hostname === "stac.test") return stacApi(request, url);
	const loopback = (url.hostname === "127.0.0.1" || url.hostname === "localhost") && url.port === "8000";
	if (url.hostname !== "cogs.test" && url.hostname !== "mirror.cogs.test" && !loopback) return Response.error();
	const [, kind = "", ...rest] = url.pathname.split("/");
	if (kind === "status") return new Response(`status ${rest[0]}`, { status: Number(rest[0]) });
	if (kind === "redirect")
		return new Response(null, { status: 302, headers: { location: url.searchParams.get("to") ?? "" } });
	if (kind === "hops") {
		const [count = "0", ...file] = rest;
		const location = Number(count) > 1 ? `/hops/${Number(count) - 1}/${file.join("/")}` : `/files/${file.join("/")}`;
		return new Response(null, { status: 302, headers: { location } });
	}
	if (kind === "corpus") {
		const found = (await corpusCases())[Number(rest[0])];
		return found
			? ranged(Uint8Array.from(found.bytes), request.headers.get("range"))
			: new Response(null, { status: 404 });
	}
	let path = rest.join("/");
	let version = "v1";
	if (kind === "replaced" || kind === "retagged" || kind === "grown") {
		const [token = "", ...file] = rest;
		if (seenBefore(`${kind}/${token}`)) version = "v2";
		path = file.join("/");
	}
	if (kind === "flaky") {
		const [token = "", ...file] = rest;
		if (!failedOnce.has(token)) {
			failedOnce.add(token);
			return new Response("try again", { status: 503 });
		}
		path = file.join("/");
	}
	if (kind === "slow") await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
	const file = await fixture(path);
	if (!file) return new Response("not found", { status: 404 });
	if (kind === "no-range") return new Response(file);
	if (kind === "long-body" || kind === "stream-long") {
		return overlong(file, request.headers.get("range"), kind === "stream-long");
	}
	if (kind === "grown") {
		const served = version === "v1" ? file : Uint8Array.from([...file, 0]);
		return ranged(served, request.headers.get("range"));
	}
	const etag = `"${path}@${version}"`;
	const ifMatch = request.headers.get("if-match");
	if (ifMatch !== null && ifMatch !== etag && kind !== "retagged") return new Response(null, { status: 412 });
	return ranged(file, request.headers.get("range"), etag);
}
