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

/** One band of an asset as inputs read it: its common name and the values it states. */
export interface SourceBand {
	commonName: string | null;
	scale: number | undefined;
	offset: number | undefined;
	nodata: number | undefined;
}

/** An asset as inputs read it, kept compact (see parseItem). */
export interface SourceAsset {
	key: string;
	/** The href resolved against the item's URL; "" when it is not an http(s) URL. */
	href: string;
	type: string | null;
	/** Why the asset cannot be an input (see the module's rule), or null when it can. */
	unreadable: string | null;
	bands: SourceBand[];
}

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
	/** The assets a resolution may read (all of them, unless parseItem was told which), in the item's order. */
	assets: SourceAsset[];
	/** The keys of all its assets (the first MAX_LISTED_KEYS), for problems that list them. */
	assetKeys: string[];
}

/**
 * What a resolution reads of items: input names (matched to asset keys and band common names)
 * and asset keys. An item keeps only the assets these can match: ingest may hold a hundred
 * items (or ten search pages) at once, and an item of a megabyte must not stay a megabyte.
 */
export interface WantedAssets {
	names: ReadonlySet<string>;
	keys: ReadonlySet<string>;
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
/** Bands of one asset read; hyperspectral assets have a few hundred. */
const MAX_ASSET_BANDS = 1024;
/** Characters of a common name, key or type kept: longer ones match no request (its names are shorter). */
const MAX_NAME_LENGTH = 256;
/** Asset keys a problem lists. */
const MAX_LISTED_KEYS = 100;
/** Characters of an href beyond which it is not read (remote hrefs' own limit). */
const MAX_ASSET_HREF_LENGTH = 2048;
/** Characters of an unreadable href repeated to the tenant. */
const SHOWN_HREF = 120;

/**
 * The item's parts inputs need, or a problem naming `path` when the document is not a STAC Item.
 * Given `wanted`, only the assets it can match are kept; each is kept compact either way.
 */
export function parseItem(document: unknown, url: string, path: string, wanted?: WantedAssets): SourceItem | ApiError {
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
	const entries = Object.entries(document.assets);
	const assets = entries.flatMap(([key, asset]) => {
		if (!isObject(asset) || key.length > MAX_NAME_LENGTH) return [];
		const bands = assetBands(asset, wanted);
		const matches =
			!wanted ||
			wanted.keys.has(key) ||
			wanted.names.has(key) ||
			bands.some((band) => band.commonName !== null && wanted.names.has(band.commonName));
		return matches ? [sourceAsset(key, asset, bands, url)] : [];
	});
	return {
		url,
		id: typeof document.id === "string" ? document.id.slice(0, MAX_NAME_LENGTH) : "",
		collection: typeof document.collection === "string" ? document.collection.slice(0, MAX_NAME_LENGTH) : null,
		datetime,
		bbox,
		assets,
		assetKeys: entries.slice(0, MAX_LISTED_KEYS).map(([key]) => key.slice(0, MAX_NAME_LENGTH)),
	};
}

/**
 * The asset's bands as STAC 1.1 (`bands`) or 1.0 (`eo:bands` beside `raster:bands`) give them.
 * An asset of STAC 1.1 with neither may state its single band's fields on itself
 * (`eo:common_name`, `nodata`, `raster:scale`, …): that is its one band. A single band's
 * scale, offset and nodata may stand on the asset too. Given `wanted`, a common name it does not
 * hold is kept as none: nothing will ask for it.
 */
function assetBands(asset: Record<string, unknown>, wanted: WantedAssets | undefined): SourceBand[] {
	const list = (value: unknown) =>
		Array.isArray(value) ? value.slice(0, MAX_ASSET_BANDS).map((band) => (isObject(band) ? band : {})) : [];
	const shortString = (value: unknown) =>
		typeof value === "string" && value.length <= MAX_NAME_LENGTH && (!wanted || wanted.names.has(value)) ? value : null;
	let named: { commonName: string | null; raster: Record<string, unknown> }[];
	const bands = list(asset.bands);
	if (bands.length > 0)
		named = bands.map((band) => ({ commonName: shortString(band["eo:common_name"]), raster: band }));
	else {
		const eo = list(asset["eo:bands"]);
		const raster = list(asset["raster:bands"]);
		named =
			eo.length === 0 && raster.length === 0
				? [{ commonName: shortString(asset["eo:common_name"]), raster: {} }]
				: Array.from({ length: Math.max(eo.length, raster.length) }, (_, i) => ({
						commonName: shortString(eo[i]?.common_name),
						raster: raster[i] ?? {},
					}));
	}
	const single = named.length <= 1;
	return named.map(({ commonName, raster }) => ({
		commonName,
		scale: numberOf(raster.scale, raster["raster:scale"], single ? asset["raster:scale"] : undefined),
		offset: numberOf(raster.offset, raster["raster:offset"], single ? asset["raster:offset"] : undefined),
		nodata: numberOf(raster.nodata, single ? asset.nodata : undefined),
	}));
}

/** A finite number from a band's (or the asset's) field; "nan" and other strings are not one. */
function numberOf(...values: unknown[]): number | undefined {
	return values.find((value): value is number => typeof value === "number" && Number.isFinite(value));
}

/** The asset's href resolved against the item, when it is http(s); else null. */
function httpHref(href: string, itemUrl: string): string | null {
	const url = URL.parse(href, itemUrl);
	return url && (url.protocol === "https:" || url.protocol === "http:") ? url.href : null;
}

/** The asset as inputs read it: its href resolved, whether it qualifies, its bands. */
function sourceAsset(key: string, asset: Record<string, unknown>, bands: SourceBand[], itemUrl: string): SourceAsset {
	const given = asset.href;
	const type = typeof asset.type === "string" ? asset.type.slice(0, MAX_NAME_LENGTH) : null;
	const href =
		typeof given === "string" && given.length <= MAX_ASSET_HREF_LENGTH ? (httpHref(given, itemUrl) ?? "") : "";
	let unreadable: string | null = null;
	if (typeof given === "string" && given.length > MAX_ASSET_HREF_LENGTH) {
		unreadable = `its href is longer than ${MAX_ASSET_HREF_LENGTH} characters`;
	} else if (href === "") {
		const shown = typeof given === "string" ? given.slice(0, SHOWN_HREF) : String(given);
		unreadable = `its href is not an http(s) URL (${shown})`;
	} else if (type !== null) {
		unreadable = GEOTIFF_TYPE.test(type) ? null : `its type is ${type}, not a GeoTIFF`;
	} else if (!TIFF_PATH.test(new URL(href).pathname)) {
		unreadable = "it has no type and its path does not end in .tif or .tiff";
	}
	return { key, href, type, unreadable, bands };
}

function resolved(asset: SourceAsset, bandIndex: number): ResolvedAsset {
	const band = asset.bands[bandIndex];
	return {
		key: asset.key,
		href: asset.href,
		band: bandIndex + 1,
		scale: band?.scale,
		offset: band?.offset,
		nodata: band?.nodata,
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
	const bandOf = (asset: SourceAsset) => asset.bands.findIndex((band) => band.commonName === want.name);
	if (want.asset !== undefined) {
		const asset = item.assets.find(({ key }) => key === want.asset);
		if (!asset) {
			const keys = item.assetKeys.join(", ");
			return stacProblem(path, `item ${item.id} has no asset '${want.asset}' (its assets: ${keys})`);
		}
		if (asset.unreadable) {
			return stacProblem(path, `asset '${asset.key}' of item ${item.id} cannot be read: ${asset.unreadable}`);
		}
		return resolved(asset, Math.max(0, bandOf(asset)));
	}
	const matching = item.assets.flatMap((asset) => {
		const bandIndex = bandOf(asset);
		return asset.key === want.name || bandIndex >= 0 ? [{ asset, bandIndex: Math.max(0, bandIndex) }] : [];
	});
	if (matching.length === 0) {
		return stacProblem(path, `item ${item.id} has no asset whose key or band common name is '${want.name}'`);
	}
	const qualifying = matching.filter(({ asset }) => asset.unreadable === null);
	const winner =
		qualifying.find(({ asset }) => asset.key === want.name) ??
		qualifying.find(({ asset }) => asset.type !== null && /profile=cloud-optimized/i.test(asset.type)) ??
		qualifying[0];
	if (!winner) {
		const why = matching.map(({ asset }) => `'${asset.key}': ${asset.unreadable}`).join("; ");
		return stacProblem(path, `no asset of item ${item.id} for '${want.name}' is an http(s) GeoTIFF (${why})`);
	}
	return resolved(winner.asset, winner.bandIndex);
}
