/**
 * The artifacts of a zonal_statistics job, as pure functions of its merged per-zone results:
 * zones.geojson (the request's features with their statistics), zones.csv (one row per zone and
 * date) and zones.parquet (GeoParquet 1.1, one row per zone).
 *
 * Every artifact lists a zone's dates in chronological order itself rather than trust each
 * producer of results to have sorted them.
 */
import { ByteWriter, type ColumnSource, ParquetWriter, type SchemaElement } from "hyparquet-writer";
import { emptyBounds, extendBounds } from "../../bounds";
import { Utf8Chunks } from "../../utf8-chunks";
import type { FeatureStatistics } from "./weighted-statistics";

/**
 * What one zone measured on one date (weighted-statistics.ts); where the percentiles came from
 * the sketch, zones.geojson gives their bound and zones.csv and zones.parquet keep their columns.
 */
export type ZoneStatistics = FeatureStatistics;

/** One zone of the request with its statistics: one entry of datetime null for a single-date job, one per date for a time series. */
export interface ZoneResult {
	id: string;
	geometry: { type: "Polygon" | "MultiPolygon"; coordinates: unknown };
	properties: Record<string, unknown> | null;
	series: { datetime: string | null; statistics: ZoneStatistics }[];
}

export interface ZoneOutputOptions {
	/** A time series lists a zone's statistics per date; a single-date job has one entry per zone, of datetime null. */
	timeSeries: boolean;
}

/**
 * Which part of a text artifact a call writes, for an artifact written zone range by zone range
 * (publish's steps of a large job): the first part opens it, the last closes it, and the whole
 * artifact is both.
 */
export interface ArtifactPart {
	first: boolean;
	last: boolean;
}

const WHOLE: ArtifactPart = { first: true, last: true };

type SeriesEntry = ZoneResult["series"][number];

const COUNT_FIELDS = ["count", "nodata_count", "masked_count"] as const;
const MEASURE_FIELDS = ["valid_fraction", "mean", "std", "min", "max", "sum"] as const;
type CountField = (typeof COUNT_FIELDS)[number];
type MeasureField = (typeof MEASURE_FIELDS)[number];

/**
 * zones.geojson: the request's FeatureCollection, each feature's properties as given plus
 * `statistics` (single date) or `series` (time series, `[{ datetime, count, …, percentiles }]`),
 * with `percentile_relative_error` after the percentiles where they came from the sketch.
 * Either name replaces a property of the same name.
 */
export function zonesGeoJson(
	results: readonly ZoneResult[],
	{ timeSeries }: ZoneOutputOptions,
	part: ArtifactPart = WHOLE,
): Utf8Chunks {
	// Feature by feature: the same text as the collection stringified whole, never held as one string.
	const text = new Utf8Chunks();
	if (part.first) text.write('{"type":"FeatureCollection","features":[');
	results.forEach((zone, i) => {
		const feature = {
			type: "Feature",
			id: zone.id,
			geometry: zone.geometry,
			properties: timeSeries
				? {
						...zone.properties,
						series: chronological(zone).map(({ datetime, statistics }) => ({
							datetime,
							...statisticsJson(statistics),
						})),
					}
				: { ...zone.properties, statistics: statisticsJson(singleDate(zone).statistics) },
		};
		// The comma written apart: joined to the feature, the feature's text was copied once more.
		if (i > 0 || !part.first) text.write(",");
		text.write(JSON.stringify(feature));
	});
	if (part.last) text.write("]}");
	return text;
}

/**
 * zones.csv (RFC 4180, CRLF line ends): one row per zone and date, `datetime` empty for a single
 * date, then the statistics and one column per percentile key; numbers in their shortest
 * round-trip form, nulls empty.
 */
export function zonesCsv(
	results: readonly ZoneResult[],
	percentileKeys: readonly string[],
	part: ArtifactPart = WHOLE,
): Utf8Chunks {
	const text = new Utf8Chunks();
	const header = ["id", "datetime", ...COUNT_FIELDS, ...MEASURE_FIELDS, ...percentileKeys];
	if (part.first) text.write(`${header.map(csvField).join(",")}\r\n`);
	// Row by row into bytes: rows as strings joined were the artifact ten times over in garbage.
	// A row's cells are joined once from one array, rather than appended piece by piece (a string
	// for each piece and each append, then the whole row flattened to be encoded: about 2 KiB of
	// garbage a row, cold, in bench:fields), and walked by index: publish runs this once, cold,
	// where each step of a for…of allocates its iterator's result.
	const cells: string[] = header.map(() => "");
	for (let z = 0; z < results.length; z++) {
		const zone = results[z] as ZoneResult;
		cells[0] = csvField(zone.id);
		const series = chronological(zone);
		for (let d = 0; d < series.length; d++) {
			const { datetime, statistics } = series[d] as SeriesEntry;
			let cell = 1;
			cells[cell++] = csvField(datetime ?? "");
			for (let i = 0; i < COUNT_FIELDS.length; i++) cells[cell++] = String(statistics[COUNT_FIELDS[i] as CountField]);
			for (let i = 0; i < MEASURE_FIELDS.length; i++) {
				cells[cell++] = csvNumber(statistics[MEASURE_FIELDS[i] as MeasureField]);
			}
			for (let i = 0; i < percentileKeys.length; i++) {
				cells[cell++] = csvNumber(percentileOf(statistics, percentileKeys[i] as string));
			}
			text.write(cells.join(","));
			text.write("\r\n");
		}
	}
	return text;
}

/** Zones per Parquet row group: only one group's columns are ever held apart from the results. */
export const ZONES_PER_ROW_GROUP = 1024;

/**
 * zones.parquet, GeoParquet 1.1 with one row per zone:
 * - `id` (string), `geometry` (WKB, little-endian, XY: an altitude is dropped as the statistics
 *   ignore it), `properties` (the feature's properties as JSON, null when it had none: a column
 *   per property would need one type per name across zones, which GeoJSON does not promise);
 * - `count`, `nodata_count`, `masked_count` (double: sums of coverage weights), `valid_fraction`, `mean`, `std`, `min`,
 *   `max`, `sum` and one column per percentile key (double, null when undefined);
 * - for a time series, `datetime` (UTC timestamp, milliseconds) and each statistic instead as a
 *   list with one element per date, in chronological order, so the columns keep their names.
 * Snappy compresses only the columns it makes smaller ({@link SNAPPY}, {@link UNCOMPRESSED}).
 * The `geo` metadata omits `crs`, which means OGC:CRS84 (longitude, latitude).
 *
 * Written zones by zones, for a job too large to hold every zone's statistics at once: each
 * {@link add} appends row groups, {@link take} gives the file's bytes written since it was last
 * called, and {@link finish} writes the footer; the bytes taken, joined, are the file.
 */
export class ZonesParquet {
	private readonly writer = new ByteWriter();
	private readonly parquet: ParquetWriter;
	private readonly statistics: StatisticColumn[];

	/** For `zones`, every zone the file will hold (their geometries bound the `geo` metadata's bbox). */
	constructor(
		zones: readonly Pick<ZoneResult, "id" | "geometry">[],
		percentileKeys: readonly string[],
		private readonly options: ZoneOutputOptions,
	) {
		const { timeSeries } = options;
		this.statistics = statisticColumns(percentileKeys, timeSeries);
		const schema: SchemaElement[] = [
			{ name: "root", num_children: 3 + this.statistics.length },
			{ name: "id", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
			{ name: "geometry", type: "BYTE_ARRAY", repetition_type: "REQUIRED" },
			{ name: "properties", type: "BYTE_ARRAY", converted_type: "JSON", repetition_type: "OPTIONAL" },
			...this.statistics.flatMap(({ name, element }) => (timeSeries ? listOf(name, element) : [{ name, ...element }])),
		];
		this.parquet = new ParquetWriter({
			writer: this.writer,
			schema,
			kvMetadata: [{ key: "geo", value: JSON.stringify(geoMetadata(zones)) }],
			createdBy: "eo-edge",
		});
	}

	/** Appends `results` in row groups of at most ZONES_PER_ROW_GROUP zones. */
	add(results: readonly ZoneResult[]): void {
		const { timeSeries } = this.options;
		for (let start = 0; start < results.length; start += ZONES_PER_ROW_GROUP) {
			const zones = results.slice(start, start + ZONES_PER_ROW_GROUP);
			const dated = zones.map((zone) => (timeSeries ? chronological(zone) : [singleDate(zone)]));
			const columnData: ColumnSource[] = [
				{ name: "id", data: zones.map((zone) => zone.id), codec: SNAPPY, encoding: UNIQUE },
				// Bounds of WKB bytes say nothing; readers filter on the geo metadata's bbox.
				{ name: "geometry", data: zones.map(wkbOf), statistics: false, codec: UNCOMPRESSED, encoding: UNIQUE },
				{ name: "properties", data: zones.map((zone) => zone.properties), statistics: false, codec: SNAPPY },
				...this.statistics.map(({ name, valueIn, codec, unique }) => ({
					name,
					codec,
					...(unique ? { encoding: UNIQUE } : {}),
					// A series' list columns carry no bounds: bounds of a list's elements filter no row, and
					// computing them was a sixth of what the file allocated (bench:fields, ten dates).
					statistics: !timeSeries,
					data: timeSeries
						? dated.map((entries) => entries.map(valueIn))
						: dated.map((entries) => valueIn(entries[0] as SeriesEntry)),
				})),
			];
			this.parquet.write({ columnData, rowGroupSize: ZONES_PER_ROW_GROUP });
		}
	}

	/** Writes the footer: the row groups' metadata and the `geo` metadata. */
	finish(): void {
		this.parquet.finish();
	}

	/**
	 * The bytes written since the last take (the first time, from the file's start), the writer's
	 * buffer then reused: its offsets count the whole file's bytes all the same.
	 */
	take(): Uint8Array {
		const bytes = this.writer.getBytes().slice();
		this.writer.index = 0;
		return bytes;
	}
}

/** The statistics in the order every artifact lists them; `percentile_relative_error` only where there is one. */
function statisticsJson(statistics: ZoneStatistics): ZoneStatistics {
	const { count, nodata_count, masked_count, valid_fraction, mean, std, min, max, sum, percentiles } = statistics;
	const ordered: ZoneStatistics = {
		count,
		nodata_count,
		masked_count,
		valid_fraction,
		mean,
		std,
		min,
		max,
		sum,
		percentiles,
	};
	const { percentile_relative_error } = statistics;
	if (percentile_relative_error !== undefined) ordered.percentile_relative_error = percentile_relative_error;
	return ordered;
}

function singleDate(zone: ZoneResult): SeriesEntry {
	// Indexed, not destructured: publish runs this cold for every zone of two artifacts, where
	// array destructuring steps an iterator (bench:fields).
	const entry = zone.series[0];
	if (entry === undefined || zone.series.length > 1) {
		throw new Error(`zone ${zone.id} has ${zone.series.length} dates in a single-date job`);
	}
	return entry;
}

/**
 * A zone's series in chronological order (a single date's one entry of datetime null as it is):
 * the series itself when it is in order already, as publish gives it, since a sort allocates its
 * own state for each zone of each artifact, and the comparisons parse each datetime several times.
 */
function chronological({ series }: ZoneResult): readonly SeriesEntry[] {
	if (series.length < 2) return series;
	let previous = Number.NEGATIVE_INFINITY;
	for (let i = 0; i < series.length; i++) {
		const instant = instantOf((series[i] as SeriesEntry).datetime);
		if (instant < previous) return series.toSorted((a, b) => instantOf(a.datetime) - instantOf(b.datetime));
		previous = instant;
	}
	return series;
}

/** Milliseconds since the epoch of a time series entry's datetime. */
function instantOf(datetime: string | null): number {
	const instant = datetime === null ? Number.NaN : Date.parse(datetime);
	if (Number.isNaN(instant)) throw new Error(`a time series entry's datetime is not a datetime: ${datetime}`);
	return instant;
}

function percentileOf(statistics: ZoneStatistics, key: string): number | null {
	const value = statistics.percentiles[key];
	if (value === undefined) throw new Error(`statistics without the requested percentile ${key}`);
	return value;
}

function csvField(value: string): string {
	return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvNumber(value: number | null): string {
	return value === null ? "" : String(value);
}

interface StatisticColumn {
	name: string;
	/** The column's type, or its list elements' for a time series. */
	element: Omit<SchemaElement, "name">;
	valueIn(entry: SeriesEntry): bigint | number | null;
	codec: Codec;
	/** Whether its values are all but unique, so that a dictionary is not even tried ({@link UNIQUE}). */
	unique: boolean;
}

type Codec = NonNullable<ColumnSource["codec"]>;

/**
 * For the columns Snappy makes smaller, measured on bench:fields' 1000 fields: ids and properties
 * (text, to under a third), min, max and the percentiles (float32 values held as doubles, whose
 * low bytes are zero: 26% smaller) and a time series' datetime (its list levels: to a third).
 */
const SNAPPY: Codec = "SNAPPY";
/**
 * For the others, written as they are: count, mean, std and sum are doubles of full precision
 * (Snappy made them a few bytes larger); nodata_count, masked_count and valid_fraction are
 * dictionary-encoded, a few bytes a row group; the WKB geometry, most of the file, was 6% smaller
 * for most of Snappy's CPU and its buffers grown by doubling to the column's size (one date:
 * 631 230 bytes in all with it, 665 411 without).
 */
const UNCOMPRESSED: Codec = "UNCOMPRESSED";
const FLOAT32_MEASURES: ReadonlySet<string> = new Set(["min", "max"]);
/**
 * Plain encoding, for the columns whose values are all but unique (ids, geometries, and mean,
 * std and sum: doubles of full precision): hyparquet-writer otherwise samples every column for a
 * dictionary first, hashing each WKB geometry, which was a third of the file's CPU (one date of
 * bench:fields' 1000 fields) for a dictionary it then refused, the file the same bytes. Many
 * equal values there (the std 0 of many one-pixel fields) cost a few bytes more, written plain.
 * The others may repeat (counts under `center`, a valid fraction of 1, a series' dates) and keep
 * the attempt.
 */
const UNIQUE = "PLAIN" as const;
const FULL_PRECISION_MEASURES: ReadonlySet<string> = new Set(["mean", "std", "sum"]);

/** Counts are sums of coverage weights, fractional under `fraction`. */
const REQUIRED_DOUBLE: Omit<SchemaElement, "name"> = { type: "DOUBLE", repetition_type: "REQUIRED" };
const DOUBLE: Omit<SchemaElement, "name"> = { type: "DOUBLE", repetition_type: "OPTIONAL" };

function statisticColumns(percentileKeys: readonly string[], timeSeries: boolean): StatisticColumn[] {
	const datetime: StatisticColumn = {
		name: "datetime",
		element: {
			type: "INT64",
			repetition_type: "REQUIRED",
			converted_type: "TIMESTAMP_MILLIS",
			logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
		},
		valueIn: ({ datetime }) => BigInt(instantOf(datetime)),
		codec: SNAPPY,
		unique: false,
	};
	return [
		...(timeSeries ? [datetime] : []),
		...COUNT_FIELDS.map((field) => ({
			name: field,
			element: REQUIRED_DOUBLE,
			valueIn: ({ statistics }: SeriesEntry) => statistics[field],
			codec: UNCOMPRESSED,
			unique: false,
		})),
		...MEASURE_FIELDS.map((field) => ({
			name: field,
			element: DOUBLE,
			valueIn: ({ statistics }: SeriesEntry) => statistics[field],
			codec: FLOAT32_MEASURES.has(field) ? SNAPPY : UNCOMPRESSED,
			unique: FULL_PRECISION_MEASURES.has(field),
		})),
		...percentileKeys.map((key) => ({
			name: key,
			element: DOUBLE,
			valueIn: ({ statistics }: SeriesEntry) => percentileOf(statistics, key),
			codec: SNAPPY,
			unique: false,
		})),
	];
}

/** A column of lists, in Parquet's three-level LIST layout. */
function listOf(name: string, element: Omit<SchemaElement, "name">): SchemaElement[] {
	return [
		{ name, repetition_type: "REQUIRED", converted_type: "LIST", logical_type: { type: "LIST" }, num_children: 1 },
		{ name: "list", repetition_type: "REPEATED", num_children: 1 },
		{ name: "element", ...element },
	];
}

type Position = readonly [number, number, ...number[]];
type Ring = readonly Position[];
type Polygon = readonly Ring[];

const isPosition = (value: unknown): value is Position =>
	Array.isArray(value) && value.length >= 2 && Number.isFinite(value[0]) && Number.isFinite(value[1]);
const isRing = (value: unknown): value is Ring => isArrayOf(value, isPosition);
const isPolygon = (value: unknown): value is Polygon => isArrayOf(value, isRing);

function isArrayOf<T>(value: unknown, isItem: (item: unknown) => item is T): value is readonly T[] {
	return Array.isArray(value) && value.every(isItem);
}

/** A zone's polygons, one for a Polygon; its coordinates checked, since the type cannot promise them. */
function polygonsOf({ id, geometry }: Pick<ZoneResult, "id" | "geometry">): readonly Polygon[] {
	const polygons: unknown = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
	if (!isArrayOf(polygons, isPolygon)) throw new Error(`zone ${id} has coordinates that are not a ${geometry.type}`);
	return polygons;
}

const WKB_POLYGON = 3;
const WKB_MULTIPOLYGON = 6;
/** Byte order, geometry type and a count of rings or polygons. */
const WKB_HEADER_BYTES = 9;

function wkbOf(zone: ZoneResult): Uint8Array {
	const polygons = polygonsOf(zone);
	const polygonBytes = (polygon: Polygon) =>
		polygon.reduce((bytes, ring) => bytes + 4 + 16 * ring.length, WKB_HEADER_BYTES);
	const multi = zone.geometry.type === "MultiPolygon";
	const size = polygons.reduce((bytes, polygon) => bytes + polygonBytes(polygon), multi ? WKB_HEADER_BYTES : 0);
	const view = new DataView(new ArrayBuffer(size));
	let offset = 0;
	const header = (type: number, parts: number) => {
		view.setUint8(offset, 1); // little-endian
		view.setUint32(offset + 1, type, true);
		view.setUint32(offset + 5, parts, true);
		offset += WKB_HEADER_BYTES;
	};
	if (multi) header(WKB_MULTIPOLYGON, polygons.length);
	for (const polygon of polygons) {
		header(WKB_POLYGON, polygon.length);
		for (const ring of polygon) {
			view.setUint32(offset, ring.length, true);
			offset += 4;
			// Indexed, not destructured: an iterator per position was most of what the column allocated.
			for (let i = 0; i < ring.length; i++) {
				const position = ring[i] as Position;
				view.setFloat64(offset, position[0], true);
				view.setFloat64(offset + 8, position[1], true);
				offset += 16;
			}
		}
	}
	return new Uint8Array(view.buffer);
}

/** GeoParquet 1.1's file metadata: geometry types present and, when there are zones, their bbox. */
function geoMetadata(results: readonly Pick<ZoneResult, "id" | "geometry">[]) {
	const types = new Set(results.map((zone) => zone.geometry.type));
	const bounds = emptyBounds();
	for (const zone of results) {
		for (const polygon of polygonsOf(zone)) {
			for (const ring of polygon) extendBounds(bounds, ring);
		}
	}
	const [west, south, east, north] = bounds;
	return {
		version: "1.1.0",
		primary_column: "geometry",
		columns: {
			geometry: {
				encoding: "WKB",
				geometry_types: (["Polygon", "MultiPolygon"] as const).filter((type) => types.has(type)),
				...(results.length > 0 ? { bbox: [west, south, east, north] } : {}),
			},
		},
	};
}
