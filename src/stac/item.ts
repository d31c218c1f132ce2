/**
 * A succeeded job's result as a STAC 1.1 Item (the artifact item.json), so a catalog can index
 * it: where it lies and when, how it was computed (processing extension), on which grid
 * (projection extension), from which inputs (`derived_from` links), and its artifacts as
 * assets, each with its size and checksum (file extension). Pure: the generic publish stage
 * gathers what it needs (src/pipeline/publish/handler.ts) and each process says what is its own
 * (PublishedResult.item, built with the helpers here), so no process copies the Item's rules.
 * See docs/stac.md.
 */
import { orient2d } from "robust-predicates";
import { ringsBounds } from "../bounds";
import type { JobRecord, JobRequest } from "../db/jobs";
import type { CompiledFormula } from "../indices/formula";
import type { LonLatPolygon } from "../raster/footprint";
import type { Geotransform } from "../raster/georeference";

export const ITEM_ARTIFACT = "item.json";
export const ITEM_MEDIA_TYPE = "application/geo+json";
export const STAC_VERSION = "1.1.0";

/** The schema of each extension an Item may use: the versions the tests validate against. */
export const STAC_EXTENSIONS = {
	file: "https://stac-extensions.github.io/file/v2.1.0/schema.json",
	projection: "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
	processing: "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
	raster: "https://stac-extensions.github.io/raster/v2.0.0/schema.json",
} as const;

/** The media type STAC gives a Cloud-Optimized GeoTIFF. */
export const COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized";

/** The format named in processing:expression: {@link FormulaExpression}. */
export const FORMULA_EXPRESSION_FORMAT = "eo-edge-formula";

/** When the result's data was taken: one instant, or the span of a time series. */
export type ItemTime = { datetime: string } | { start: string; end: string };

/** STAC 1.1 `bands[]` entry of a raster asset (with the raster extension's scale and offset). */
export interface ItemBand {
	data_type: string;
	nodata: number | "nan";
	/** Of the values the samples stand for (after scale and offset), as stats.json gives them. */
	statistics?: { minimum?: number; maximum?: number; mean?: number; stddev?: number; valid_percent: number };
	unit?: string;
	/** raster:scale and raster:offset: a sample s stands for s * scale + offset. */
	scale?: number;
	offset?: number;
}

/** How an artifact appears among the Item's assets. */
export interface AssetDescription {
	roles: string[];
	/** The STAC media type (it may say more than the artifact's, e.g. the COG profile). */
	type: string;
	title: string;
	bands?: ItemBand[];
}

/** A raster result's grid, for the projection extension. */
export interface ResultGrid {
	/** null when the CRS has no EPSG code (or there is none): proj:code is then null. */
	epsg: number | null;
	width: number;
	height: number;
	/** GDAL order; null when the result has no geotransform. */
	geotransform: Geotransform | null;
}

/** processing:expression's `expression` for {@link FORMULA_EXPRESSION_FORMAT}. */
export interface FormulaExpression {
	/** The catalog index id, or null for a custom expression. */
	index: string | null;
	/** Over the input names and constant names, as compiled. */
	formula: string;
	constants: Record<string, number>;
	/** Each input's band and the scale and offset the formula saw it with (value = sample * scale + offset). */
	inputs: Record<string, { band: number; scale: number; offset: number }>;
}

/** A `derived_from` link. */
export interface ItemLink {
	rel: string;
	href: string;
	type?: string;
	title?: string;
}

/** What a process says of its result for the job's Item (see PublishedResult.item). */
export interface ResultItem {
	/** Where the result lies, in longitude/latitude; null when it cannot be placed (geometry null, no bbox). */
	footprint: LonLatPolygon | null;
	time: ItemTime;
	/** The raster's grid, for a process whose result is one. */
	grid?: ResultGrid;
	/** Its artifacts the Item lists, by artifact name. */
	assets: Record<string, AssetDescription>;
	/** The formula the process evaluated, if it evaluates one. */
	expression?: FormulaExpression;
	/** What the process did, in words (processing:lineage). */
	lineage: string;
	/** Sources besides the job's inputs (a zonal job's field set). */
	sources?: ItemLink[];
}

/** A stored artifact's size and SHA-256 (hex). */
export interface StoredFile {
	size: number;
	sha256: string;
}

/** Everything an Item is built from. */
export interface ItemParts {
	jobId: string;
	/** What the Item's hrefs start with (see publicBaseUrl); "" leaves them relative to the API's root. */
	baseUrl: string;
	result: ResultItem;
	/** Each asset's stored bytes, by artifact name. */
	files: Record<string, StoredFile>;
	inputs: JobRequest["inputs"];
	softwareVersion: string;
	processedAt: string;
}

export interface StacItem {
	type: "Feature";
	stac_version: typeof STAC_VERSION;
	stac_extensions: string[];
	id: string;
	geometry: LonLatPolygon | null;
	bbox?: [number, number, number, number];
	properties: Record<string, unknown>;
	links: ItemLink[];
	assets: Record<string, Record<string, unknown>>;
}

/** An instant as STAC wants it: RFC 3339 in UTC. */
export function utcDatetime(datetime: string): string {
	return new Date(datetime).toISOString();
}

/** A job of one date: the request's `datetime` (the scene's), else the time the job was created. */
export function singleDateTime(job: Pick<JobRecord, "request" | "createdAt">): ItemTime {
	return { datetime: utcDatetime(job.request.datetime ?? job.createdAt) };
}

/** A time series: from its earliest date to its latest. */
export function seriesTime(datetimes: readonly string[]): ItemTime {
	const instants = datetimes.map((datetime) => new Date(datetime).getTime());
	if (instants.length === 0) throw new Error("a time series without dates");
	return {
		start: new Date(Math.min(...instants)).toISOString(),
		end: new Date(Math.max(...instants)).toISOString(),
	};
}

/** The formula as processing:expression gives it, with the inputs it read. */
export function formulaExpression(formula: CompiledFormula, inputs: JobRequest["inputs"]): FormulaExpression {
	return {
		index: formula.index,
		formula: formula.expression,
		constants: formula.constants,
		inputs: Object.fromEntries(
			Object.entries(inputs).map(([name, { band, scale, offset }]) => [name, { band, scale, offset }]),
		),
	};
}

/** A formula's lineage: what was evaluated, in words. */
export function formulaLineage(formula: CompiledFormula, what: string): string {
	const named = formula.index === null ? "The expression" : `${formula.index} (Awesome Spectral Indices)`;
	return `${named} ${formula.expression}, ${what}, by EO Edge`;
}

/** Band statistics from a result's statistics: its extremes and moments when any pixel is valid. */
export function bandStatistics(statistics: {
	count: number;
	nodata_count: number;
	masked_count?: number | undefined;
	min: number | null;
	max: number | null;
	mean: number | null;
	std: number | null;
}): NonNullable<ItemBand["statistics"]> {
	const pixels = statistics.count + statistics.nodata_count + (statistics.masked_count ?? 0);
	const moments = {
		minimum: statistics.min,
		maximum: statistics.max,
		mean: statistics.mean,
		stddev: statistics.std,
	};
	return {
		...Object.fromEntries(Object.entries(moments).filter(([, value]) => value !== null)),
		valid_percent: pixels === 0 ? 0 : (100 * statistics.count) / pixels,
	};
}

/**
 * The base of the hrefs in a job's Item: PUBLIC_BASE_URL when the deploy sets it, else the
 * origin the job was submitted to (`requestUrl`). Without a trailing slash; a base with a path
 * (`https://example.com/eo-edge`) keeps it.
 */
export function publicBaseUrl(configured: string | undefined, requestUrl: string): string {
	const base = configured?.trim() ?? "";
	if (base === "") return new URL(requestUrl).origin;
	const url = URL.parse(base);
	if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
		throw new Error(`PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment, not '${base}'`);
	}
	return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
}

/** The href of a job's artifact. */
export function artifactHref(baseUrl: string, jobId: string, name: string): string {
	return `${baseUrl}/v1/jobs/${jobId}/artifacts/${name}`;
}

/**
 * A `derived_from` link for each source the inputs read, once each: the STAC Item an input came
 * from (`stac.item`), else a remote COG's href, else the upload's resource.
 */
export function inputSources(inputs: JobRequest["inputs"], baseUrl: string): ItemLink[] {
	const links = new Map<string, ItemLink>();
	for (const input of Object.values(inputs)) {
		let link: ItemLink;
		if (input.stac?.item) link = { rel: "derived_from", href: input.stac.item, type: ITEM_MEDIA_TYPE };
		else if (input.href !== undefined)
			link = { rel: "derived_from", href: input.href, type: "image/tiff; application=geotiff" };
		else {
			const href = `${baseUrl}/v1/uploads/${input.upload_id}`;
			link = { rel: "derived_from", href, type: "application/json", title: `upload ${input.upload_id}` };
		}
		if (!links.has(link.href)) links.set(link.href, link);
	}
	return [...links.values()];
}

/** A GDAL geotransform as proj:transform (the affine's first two rows: a, b, c, d, e, f). */
function projTransform([originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight]: Geotransform) {
	return [pixelWidth, rowRotation, originX, columnRotation, pixelHeight, originY];
}

/** The projection extension's fields of a raster result's grid. */
function projectionFields(grid: ResultGrid): Record<string, unknown> {
	return {
		"proj:code": grid.epsg === null ? null : `EPSG:${grid.epsg}`,
		"proj:shape": [grid.height, grid.width],
		...(grid.geotransform ? { "proj:transform": projTransform(grid.geotransform) } : {}),
	};
}

/** A STAC band as JSON: NaN nodata as "nan", scale and offset as the raster extension's. */
function bandJson({ scale, offset, ...band }: ItemBand): Record<string, unknown> {
	return {
		...band,
		...(scale === undefined ? {} : { "raster:scale": scale }),
		...(offset === undefined ? {} : { "raster:offset": offset }),
	};
}

/** `1220` (sha2-256, 32 bytes) and the digest: a multihash, as file:checksum wants it. */
export function sha256Multihash(sha256Hex: string): string {
	return `1220${sha256Hex}`;
}

/** The job's Item. Throws when an asset has no stored file: publish hashes every one first. */
export function buildItem(parts: ItemParts): StacItem {
	const { jobId, baseUrl, result, files } = parts;
	const assets: StacItem["assets"] = {};
	let scaled = false;
	for (const [name, asset] of Object.entries(result.assets)) {
		const file = files[name];
		if (!file) throw new Error(`job ${jobId}: asset ${name} has no stored file`);
		const bands = asset.bands?.map(bandJson);
		scaled ||= asset.bands?.some((band) => band.scale !== undefined || band.offset !== undefined) ?? false;
		assets[name] = {
			href: artifactHref(baseUrl, jobId, name),
			type: asset.type,
			title: asset.title,
			roles: asset.roles,
			...(bands ? { bands } : {}),
			"file:size": file.size,
			"file:checksum": sha256Multihash(file.sha256),
		};
	}
	const time =
		"datetime" in result.time
			? { datetime: result.time.datetime }
			: { datetime: null, start_datetime: result.time.start, end_datetime: result.time.end };
	const links: ItemLink[] = [
		...(baseUrl === ""
			? []
			: [{ rel: "self", href: artifactHref(baseUrl, jobId, ITEM_ARTIFACT), type: ITEM_MEDIA_TYPE }]),
		...inputSources(parts.inputs, baseUrl),
		...(result.sources ?? []),
	];
	return {
		type: "Feature",
		stac_version: STAC_VERSION,
		stac_extensions: [
			STAC_EXTENSIONS.file,
			STAC_EXTENSIONS.processing,
			...(result.grid ? [STAC_EXTENSIONS.projection] : []),
			...(scaled ? [STAC_EXTENSIONS.raster] : []),
		],
		id: jobId,
		geometry: result.footprint,
		...(result.footprint ? { bbox: ringsBounds(result.footprint.coordinates) } : {}),
		properties: {
			...time,
			...(result.grid ? projectionFields(result.grid) : {}),
			"processing:software": { "eo-edge": parts.softwareVersion },
			"processing:datetime": utcDatetime(parts.processedAt),
			...(result.expression
				? { "processing:expression": { format: FORMULA_EXPRESSION_FORMAT, expression: result.expression } }
				: {}),
			"processing:lineage": result.lineage,
		},
		links,
		assets,
	};
}

/**
 * The convex hull of longitude/latitude points (Andrew's monotone chain), counterclockwise, its
 * first point not repeated; fewer than three points when they lie on one line.
 */
export function convexHull(points: readonly (readonly [number, number])[]): [number, number][] {
	// The points sorted as they are, not copied: a zonal job's tens of thousands of positions copied
	// point by point were most of what its STAC Item allocated (bench:fields).
	const sorted = outsideExtremes(points).sort(byLongitudeThenLatitude);
	return [...chain(sorted, 0, 1), ...chain(sorted, sorted.length - 1, -1)].map((point) => [point[0], point[1]]);
}

/**
 * The points not strictly inside the quadrilateral of the westmost, southmost, eastmost and
 * northmost points (Akl and Toussaint's filter), decided exactly: none of those can be a vertex
 * of the hull, and the many fields of a zonal job leave a few hundred of their tens of thousands
 * of positions to sort (sorting them all was most of the footprint's time in bench:fields).
 */
function outsideExtremes(points: readonly (readonly [number, number])[]): (readonly [number, number])[] {
	const first = points[0];
	if (!first) return [];
	let [west, south, east, north] = [first, first, first, first];
	for (let i = 1; i < points.length; i++) {
		const point = points[i] as readonly [number, number];
		if (point[0] < west[0]) west = point;
		if (point[0] > east[0]) east = point;
		if (point[1] < south[1]) south = point;
		if (point[1] > north[1]) north = point;
	}
	const corners = [west, south, east, north];
	const kept: (readonly [number, number])[] = [];
	for (let i = 0; i < points.length; i++) {
		const point = points[i] as readonly [number, number];
		// Counterclockwise corners: inside lies left of every edge; a corner repeated makes an edge of no length, which keeps every point.
		let inside = true;
		for (let c = 0; c < 4 && inside; c++) {
			const a = corners[c] as readonly [number, number];
			const b = corners[(c + 1) % 4] as readonly [number, number];
			// robust-predicates' orient2d is negative where the point lies left of a → b.
			inside = orient2d(a[0], a[1], b[0], b[1], point[0], point[1]) < 0;
		}
		if (!inside) kept.push(point);
	}
	return kept;
}

/**
 * -1, 0 or 1, the order of `a[0] - b[0] || a[1] - b[1]` for finite coordinates: a small integer
 * rather than the difference, a float the sort would box at every comparison (hundreds of
 * thousands of them for a zonal job's fields).
 */
function byLongitudeThenLatitude(a: readonly [number, number], b: readonly [number, number]): number {
	if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
	if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
	return 0;
}

/**
 * One half of the monotone chain: the sorted points walked from `first` by `step`, each dropping
 * the points kept before it that no longer turn left, the last one left to the other half.
 * Indexed rather than iterated (`for…of`, `.at`, the points destructured): publish runs the hull
 * once per invocation over every field, so cold, where the iterating form took several times as
 * long (figures in the commit).
 */
function chain(
	sorted: readonly (readonly [number, number])[],
	first: number,
	step: 1 | -1,
): (readonly [number, number])[] {
	const kept: (readonly [number, number])[] = [];
	for (let i = first; i >= 0 && i < sorted.length; i += step) {
		const point = sorted[i] as readonly [number, number];
		while (kept.length >= 2) {
			const o = kept[kept.length - 2] as readonly [number, number];
			const a = kept[kept.length - 1] as readonly [number, number];
			if ((a[0] - o[0]) * (point[1] - o[1]) - (a[1] - o[1]) * (point[0] - o[0]) > 0) break;
			kept.pop();
		}
		kept.push(point);
	}
	kept.pop();
	return kept;
}

/**
 * The convex hull of longitude/latitude points as a polygon: a zonal job's footprint, the
 * outline of all its fields. Null for points on one line. Fields across the antimeridian are
 * not split.
 */
export function hullFootprint(points: readonly (readonly [number, number])[]): LonLatPolygon | null {
	const ring = convexHull(points);
	const first = ring[0];
	if (ring.length < 3 || !first) return null;
	return { type: "Polygon", coordinates: [[...ring, [first[0], first[1]]]] };
}
