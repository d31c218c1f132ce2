/**
 * STAC Items as inputs: which asset of an item an input reads, and the band, scale, offset and
 * nodata the item states for it. Both STAC 1.1 (`bands[]` with `eo:common_name`, `scale`,
 * `offset`, `nodata`) and STAC 1.0 (`eo:bands[].common_name`, `raster:bands[]`) are read.
 *
 * An asset qualifies as an input when its href is http(s) (a relative href resolves against the
 * item's URL) and it is a GeoTIFF: its `type` is `image/tiff; application=geotiff` (with or
 * without `profile=cloud-optimized`), or it has no `type` and its path ends in .tif or .tiff.
 * Earth Search's `red-jp2` (JPEG 2000 on s3://) shares `red`'s common name and never qualifies.
 *
 * When several qualifying assets match a band name, the winner is, in order: the asset whose key
 * is the name; then one whose type says `profile=cloud-optimized`; then the first in the item's
 * asset order. Within an asset of several bands, the first band of that common name is read.
 */
import { z } from "@hono/zod-openapi";
import { ApiError } from "../errors/api-error";

/** What an item's assets and properties hold that inputs need; the rest is ignored. */
export interface SourceItem {
	/** The URL the item was fetched from, against which relative hrefs resolve. */
	url: string;
	id: string;
	/** The item's `collection`, with `id` what names it (search pages may repeat an item). */
	collection: string | null;
	datetime: string | null;
	/** [west, south, east, north] in longitude/latitude, from `bbox` (or null when absent). */
	bbox: [number, number, number, number] | null;
	/** The assets in the item's order. */
	assets: [string, Record<string, unknown>][];
}

/** Where a value applied to an input came from. */
export type ValueSource = "request" | "item" | "default";

/** An asset resolved for an input: what to read and the values the item states for it. */
export interface ResolvedAsset {
	key: string;
	href: string;
	/** 1-based band of the file. */
	band: number;
	scale: number | undefined;
	offset: number | undefined;
	nodata: number | undefined;
}

const GEOTIFF_TYPE = /^image\/tiff\s*;\s*application=geotiff(\s*;\s*profile=cloud-optimized)?\s*$/i;
const TIFF_PATH = /\.tiff?$/i;

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A refusal of an item or asset, naming the request field (`stac_item`, `inputs.red.asset`, …). */
export function stacProblem(path: string, message: string): ApiError {
	return new ApiError("invalid-stac", `${path}: ${message}`, { errors: [{ path, message }] });
}

/** STAC's datetimes are RFC 3339 date-times with a zone (`Z` or an offset). */
const RFC_3339 = z.iso.datetime({ offset: true });

/** Characters of a refused datetime repeated to the tenant. */
const SHOWN_DATETIME = 64;

/** The item's parts inputs need, or a problem naming `path` when the document is not a STAC Item. */
export function parseItem(document: unknown, url: string, path: string): SourceItem | ApiError {
	if (!isObject(document) || document.type !== "Feature" || !isObject(document.assets)) {
		return stacProblem(path, 'is not a STAC Item (a GeoJSON Feature with "assets")');
	}
	const properties = isObject(document.properties) ? document.properties : {};
	// A null datetime means an interval, whose start dates the item.
	const field = typeof properties.datetime === "string" ? "datetime" : "start_datetime";
	const given = properties[field];
	const datetime = typeof given === "string" ? given : null;
	// Dates are compared, sorted and written into the result's Item: a string that is not an
	// instant would fail the job only at publish, as a fault of ours.
	if (datetime !== null && !RFC_3339.safeParse(datetime).success) {
		const shown = JSON.stringify(datetime.slice(0, SHOWN_DATETIME));
		return stacProblem(path, `the ${field} of item ${String(document.id)} (${shown}) is not an RFC 3339 date-time`);
	}
	const bbox =
		Array.isArray(document.bbox) && document.bbox.length >= 4 && document.bbox.every((v) => typeof v === "number")
			? ((document.bbox.length === 6
					? [document.bbox[0], document.bbox[1], document.bbox[3], document.bbox[4]]
					: document.bbox.slice(0, 4)) as [number, number, number, number])
			: null;
	const assets = Object.entries(document.assets).filter((entry): entry is [string, Record<string, unknown>] =>
		isObject(entry[1]),
	);
	return {
		url,
		id: typeof document.id === "string" ? document.id : "",
		collection: typeof document.collection === "string" ? document.collection : null,
		datetime,
		bbox,
		assets,
	};
}

/**
 * The asset's bands as STAC 1.1 (`bands`) or 1.0 (`eo:bands` beside `raster:bands`) give them.
 * An asset of STAC 1.1 with neither may state its single band's fields on itself
 * (`eo:common_name`, `nodata`, `raster:scale`, …): that is its one band.
 */
function assetBands(asset: Record<string, unknown>): { commonName: string | null; raster: Record<string, unknown> }[] {
	const list = (value: unknown) => (Array.isArray(value) ? value.map((band) => (isObject(band) ? band : {})) : []);
	const commonName = (band: Record<string, unknown>, field: string) =>
		typeof band[field] === "string" ? (band[field] as string) : null;
	const bands = list(asset.bands);
	if (bands.length > 0) return bands.map((band) => ({ commonName: commonName(band, "eo:common_name"), raster: band }));
	const eo = list(asset["eo:bands"]);
	const raster = list(asset["raster:bands"]);
	if (eo.length === 0 && raster.length === 0) return [{ commonName: commonName(asset, "eo:common_name"), raster: {} }];
	return Array.from({ length: Math.max(eo.length, raster.length) }, (_, i) => ({
		commonName: eo[i] ? commonName(eo[i], "common_name") : null,
		raster: raster[i] ?? {},
	}));
}

/** A finite number from a band's (or the asset's) field; "nan" and other strings are not one. */
function numberOf(...values: unknown[]): number | undefined {
	return values.find((value): value is number => typeof value === "number" && Number.isFinite(value));
}

/** The asset's href resolved against the item, when it is http(s); else null. */
function httpHref(asset: Record<string, unknown>, itemUrl: string): string | null {
	if (typeof asset.href !== "string") return null;
	let url: URL;
	try {
		url = new URL(asset.href, itemUrl);
	} catch {
		return null;
	}
	return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
}

/** Why the asset cannot be an input, or null when it can (see the module's rule). */
function disqualified(asset: Record<string, unknown>, itemUrl: string): string | null {
	const href = httpHref(asset, itemUrl);
	if (href === null) return `its href is not an http(s) URL (${String(asset.href)})`;
	if (typeof asset.type === "string") {
		return GEOTIFF_TYPE.test(asset.type) ? null : `its type is ${asset.type}, not a GeoTIFF`;
	}
	return TIFF_PATH.test(new URL(href).pathname) ? null : "it has no type and its path does not end in .tif or .tiff";
}

function resolved(key: string, asset: Record<string, unknown>, bandIndex: number, itemUrl: string): ResolvedAsset {
	const bands = assetBands(asset);
	const raster = bands[bandIndex]?.raster ?? {};
	// STAC 1.1 puts a single band's values on the asset too, as nodata and raster:scale/offset.
	const single = bands.length <= 1;
	return {
		key,
		href: httpHref(asset, itemUrl) as string,
		band: bandIndex + 1,
		scale: numberOf(raster.scale, raster["raster:scale"], single ? asset["raster:scale"] : undefined),
		offset: numberOf(raster.offset, raster["raster:offset"], single ? asset["raster:offset"] : undefined),
		nodata: numberOf(raster.nodata, single ? asset.nodata : undefined),
	};
}

/**
 * The asset an input reads: the one named (`asset`), or the winner among those matching `name`
 * by key or band common name. A problem names `path` (the request field) when none qualifies.
 */
export function resolveAsset(
	item: SourceItem,
	want: { asset: string | undefined; name: string },
	path: string,
): ResolvedAsset | ApiError {
	if (want.asset !== undefined) {
		const found = item.assets.find(([key]) => key === want.asset);
		if (!found) {
			const keys = item.assets.map(([key]) => key).join(", ");
			return stacProblem(path, `item ${item.id} has no asset '${want.asset}' (its assets: ${keys})`);
		}
		const [key, asset] = found;
		const refused = disqualified(asset, item.url);
		if (refused) return stacProblem(path, `asset '${key}' of item ${item.id} cannot be read: ${refused}`);
		const byName = assetBands(asset).findIndex((band) => band.commonName === want.name);
		return resolved(key, asset, Math.max(0, byName), item.url);
	}
	const matching = item.assets.flatMap(([key, asset]) => {
		const bandIndex = assetBands(asset).findIndex((band) => band.commonName === want.name);
		return key === want.name || bandIndex >= 0 ? [{ key, asset, bandIndex: Math.max(0, bandIndex) }] : [];
	});
	if (matching.length === 0) {
		return stacProblem(path, `item ${item.id} has no asset whose key or band common name is '${want.name}'`);
	}
	const qualifying = matching.filter(({ asset }) => disqualified(asset, item.url) === null);
	const cloudOptimized = (asset: Record<string, unknown>) =>
		typeof asset.type === "string" && /profile=cloud-optimized/i.test(asset.type);
	const winner =
		qualifying.find(({ key }) => key === want.name) ??
		qualifying.find(({ asset }) => cloudOptimized(asset)) ??
		qualifying[0];
	if (!winner) {
		const why = matching.map(({ key, asset }) => `'${key}': ${disqualified(asset, item.url)}`).join("; ");
		return stacProblem(path, `no asset of item ${item.id} for '${want.name}' is an http(s) GeoTIFF (${why})`);
	}
	return resolved(winner.key, winner.asset, winner.bandIndex, item.url);
}
