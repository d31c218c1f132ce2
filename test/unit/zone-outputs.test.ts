import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { concatenated } from "../../src/bytes";
import {
	ZONES_PER_ROW_GROUP,
	type ZoneResult,
	type ZoneStatistics,
	ZonesParquet,
	zonesCsv,
	zonesGeoJson,
} from "../../src/processes/zonal/outputs";
import { countOutside, outsideFieldsWarnings } from "../../src/processes/zonal/statistics";
import type { Utf8Chunks } from "../../src/utf8-chunks";
import { drained } from "../utf8";

const PERCENTILE_KEYS = ["p10", "p90"];

/** zones.parquet of `results`, written whole as publish writes a job of one range of fields. */
function zonesParquet(results: ZoneResult[], percentileKeys: readonly string[], options: { timeSeries: boolean }) {
	const file = new ZonesParquet(results, percentileKeys, options);
	file.add(results);
	file.finish();
	return file.take();
}

/** The UTF-8 text of a text artifact. */
const text = (chunks: Utf8Chunks) =>
	new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(drained(chunks));

function statistics(overrides: Partial<ZoneStatistics> = {}): ZoneStatistics {
	return {
		count: 120,
		nodata_count: 3,
		masked_count: 7,
		valid_fraction: 120 / 130,
		mean: 0.1 + 0.2,
		std: 1e-7,
		min: -0.5,
		max: 123456789.12345679,
		sum: 36.00000000000001,
		percentiles: { p10: 0.1, p90: 0.9 },
		...overrides,
	};
}

const square = {
	type: "Polygon" as const,
	// An exterior ring and a hole; the altitude of the first position is allowed by RFC 7946.
	coordinates: [
		[
			[10, 45, 120],
			[11, 45],
			[11, 46],
			[10, 46],
			[10, 45],
		],
		[
			[10.25, 45.25],
			[10.25, 45.5],
			[10.5, 45.5],
			[10.25, 45.25],
		],
	],
};
const islands = {
	type: "MultiPolygon" as const,
	coordinates: [
		[
			[
				[-1.5, 50.125],
				[-1, 50.125],
				[-1, 50.5],
				[-1.5, 50.125],
			],
		],
		[
			[
				[2, 48],
				[3, 48],
				[3, 49],
				[2, 48],
			],
		],
	],
};

const singleDate: ZoneResult[] = [
	{
		id: 'field "north", plot 1',
		geometry: square,
		properties: { crop: "wheat", area_ha: 12.5, tags: ["a", "b"] },
		series: [{ datetime: null, statistics: statistics() }],
	},
	{
		id: "coast\nline",
		geometry: islands,
		properties: null,
		series: [
			{
				datetime: null,
				statistics: statistics({
					count: 0,
					valid_fraction: 0,
					mean: null,
					std: null,
					min: null,
					max: null,
					sum: null,
					percentiles: { p10: null, p90: null },
				}),
			},
		],
	},
];

const DATES = ["2024-05-01T10:30:00Z", "2024-05-11T10:30:00.250Z", "2024-05-21T10:30:00Z"];

/** The same zones over three dates, given out of order. */
const timeSeries: ZoneResult[] = singleDate.map((zone) => ({
	...zone,
	series: [2, 0, 1].map((day) => ({
		datetime: DATES[day] ?? null,
		statistics: statistics({ count: 100 + day, mean: day / 3, percentiles: { p10: day, p90: null } }),
	})),
}));

/** RFC 4180 fields, independent of the writer: quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
	const rows: string[][] = [];
	let row: string[] = [];
	let field = "";
	let quoted = false;
	for (let index = 0; index < text.length; index++) {
		const char = text[index];
		if (quoted) {
			if (char === '"' && text[index + 1] === '"') {
				field += '"';
				index++;
			} else if (char === '"') quoted = false;
			else field += char;
		} else if (char === '"') quoted = true;
		else if (char === ",") {
			row.push(field);
			field = "";
		} else if (char === "\r" && text[index + 1] === "\n") {
			row.push(field);
			rows.push(row);
			row = [];
			field = "";
			index++;
		} else field += char;
	}
	expect(field, "the text ends with CRLF").toBe("");
	return rows;
}

type Coordinates = number[][][];

/** An ISO WKB Polygon or MultiPolygon, decoded here rather than by the reader under test. */
function decodeWkb(bytes: Uint8Array): { type: string; coordinates: Coordinates | Coordinates[] } {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	let offset = 0;
	const uint32 = () => {
		const value = view.getUint32(offset, true);
		offset += 4;
		return value;
	};
	const float64 = () => {
		const value = view.getFloat64(offset, true);
		offset += 8;
		return value;
	};
	const header = () => {
		expect(view.getUint8(offset), "little-endian").toBe(1);
		offset += 1;
		return uint32();
	};
	const polygon = (): Coordinates => {
		expect(header()).toBe(3);
		return Array.from({ length: uint32() }, () => Array.from({ length: uint32() }, () => [float64(), float64()]));
	};
	const type = view.getUint32(1, true);
	const geometry =
		type === 3
			? { type: "Polygon", coordinates: polygon() }
			: {
					type: "MultiPolygon",
					coordinates: (() => {
						expect(header()).toBe(6);
						return Array.from({ length: uint32() }, polygon);
					})(),
				};
	expect(offset, "no trailing bytes").toBe(bytes.byteLength);
	return geometry;
}

/** Coordinates as the WKB holds them: longitude and latitude only. */
function planar(coordinates: unknown): unknown {
	return Array.isArray(coordinates) && typeof coordinates[0] === "number"
		? coordinates.slice(0, 2)
		: (coordinates as unknown[]).map(planar);
}

async function readParquet(bytes: Uint8Array, options: { geoparquet?: boolean } = {}) {
	const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
	const metadata = parquetMetadata(file, { geoparquet: options.geoparquet ?? false });
	const rows = await parquetReadObjects({ file, metadata, utf8: false });
	return { metadata, rows };
}

/** Each column's bounds in the first row group, by its top-level name; absent where it has none. */
function boundsByColumn(metadata: Awaited<ReturnType<typeof readParquet>>["metadata"]) {
	const columns = metadata.row_groups[0]?.columns ?? [];
	return new Map(
		columns.flatMap(({ meta_data }) =>
			meta_data?.statistics ? [[meta_data.path_in_schema[0] as string, meta_data.statistics] as const] : [],
		),
	);
}

const STATISTIC_NAMES = [
	"count",
	"nodata_count",
	"masked_count",
	"valid_fraction",
	"mean",
	"std",
	"min",
	"max",
	"sum",
	"percentiles",
];

describe("zones.geojson", () => {
	it("keeps each feature's id, geometry and properties and adds its statistics", () => {
		const collection = JSON.parse(text(zonesGeoJson(singleDate, { timeSeries: false })));
		expect(collection.type).toBe("FeatureCollection");
		expect(collection.features).toHaveLength(2);
		const [field, coast] = collection.features;
		expect(field).toEqual({
			type: "Feature",
			id: 'field "north", plot 1',
			geometry: square,
			properties: { crop: "wheat", area_ha: 12.5, tags: ["a", "b"], statistics: statistics() },
		});
		expect(Object.keys(field.properties.statistics)).toEqual(STATISTIC_NAMES);
		expect(Object.keys(field.properties.statistics.percentiles)).toEqual(PERCENTILE_KEYS);
		expect(field.properties.statistics.mean).toBe(0.1 + 0.2);
		expect(coast.geometry).toEqual(islands);
		expect(coast.properties).toEqual({ statistics: singleDate[1]?.series[0]?.statistics });
		expect(coast.properties.statistics.mean).toBeNull();
	});

	it("lists a time series by datetime under properties.series", () => {
		const collection = JSON.parse(text(zonesGeoJson(timeSeries, { timeSeries: true })));
		for (const feature of collection.features) {
			expect(feature.properties.statistics).toBeUndefined();
			expect(feature.properties.series.map((entry: { datetime: string }) => entry.datetime)).toEqual(DATES);
			expect(Object.keys(feature.properties.series[0])).toEqual(["datetime", ...STATISTIC_NAMES]);
			expect(feature.properties.series.map((entry: { count: number }) => entry.count)).toEqual([100, 101, 102]);
		}
		expect(collection.features[0].properties.crop).toBe("wheat");
	});

	it("gives percentile_relative_error after the percentiles only where the sketch gave them", () => {
		const sketched: ZoneResult[] = [
			{
				...(singleDate[0] as ZoneResult),
				series: [{ datetime: null, statistics: statistics({ percentile_relative_error: 2 ** -8 }) }],
			},
			singleDate[1] as ZoneResult,
		];
		const [field, coast] = JSON.parse(text(zonesGeoJson(sketched, { timeSeries: false }))).features;
		expect(Object.keys(field.properties.statistics)).toEqual([...STATISTIC_NAMES, "percentile_relative_error"]);
		expect(field.properties.statistics.percentile_relative_error).toBe(0.00390625);
		expect(Object.keys(coast.properties.statistics)).toEqual(STATISTIC_NAMES);
		// The tables keep their columns.
		expect(text(zonesCsv(sketched, PERCENTILE_KEYS))).toBe(text(zonesCsv(singleDate, PERCENTILE_KEYS)));
	});

	it("refuses a single-date job whose zone has several dates", () => {
		expect(() => zonesGeoJson(timeSeries, { timeSeries: false })).toThrow(/3 dates in a single-date job/);
	});
});

describe("zones.csv", () => {
	it("quotes ids per RFC 4180, writes numbers in full precision and nulls as empty cells", () => {
		const csv = text(zonesCsv(singleDate, PERCENTILE_KEYS));
		expect(csv.split("\r\n")[0]).toBe(
			"id,datetime,count,nodata_count,masked_count,valid_fraction,mean,std,min,max,sum,p10,p90",
		);
		expect(csv).toContain(
			'"field ""north"", plot 1",,120,3,7,0.9230769230769231,0.30000000000000004,1e-7,-0.5,123456789.12345679,36.00000000000001,0.1,0.9\r\n',
		);
		expect(csv.endsWith('"coast\nline",,0,3,7,0,,,,,,,\r\n')).toBe(true);

		const [header, field, coast, ...rest] = parseCsv(csv);
		expect(rest).toEqual([]);
		expect(header).toHaveLength(13);
		expect(field?.[0]).toBe('field "north", plot 1');
		expect(coast?.[0]).toBe("coast\nline");
		const mean = Number(field?.[header?.indexOf("mean") ?? -1]);
		expect(mean).toBe(0.1 + 0.2);
		expect(Number(field?.[header?.indexOf("max") ?? -1])).toBe(123456789.12345679);
	});

	it("writes one row per zone and date, in chronological order", () => {
		const [header, ...rows] = parseCsv(text(zonesCsv(timeSeries, PERCENTILE_KEYS)));
		expect(header?.slice(-2)).toEqual(PERCENTILE_KEYS);
		expect(rows.map((row) => [row[0], row[1], row[2], row[11], row[12]])).toEqual([
			['field "north", plot 1', DATES[0], "100", "0", ""],
			['field "north", plot 1', DATES[1], "101", "1", ""],
			['field "north", plot 1', DATES[2], "102", "2", ""],
			["coast\nline", DATES[0], "100", "0", ""],
			["coast\nline", DATES[1], "101", "1", ""],
			["coast\nline", DATES[2], "102", "2", ""],
		]);
	});

	it("refuses statistics that lack a requested percentile", () => {
		expect(() => zonesCsv(singleDate, ["p10", "p50"])).toThrow(/percentile p50/);
	});
});

/**
 * The writers as they were before writing into bytes piece by piece: the collection stringified
 * whole, the rows joined. Their text is the reference the bytes are held to.
 */
function referenceGeoJson(results: readonly ZoneResult[], timeSeries: boolean): string {
	const ordered = ({ percentile_relative_error, ...rest }: ZoneStatistics) =>
		percentile_relative_error === undefined ? rest : { ...rest, percentile_relative_error };
	const features = results.map((zone) => ({
		type: "Feature",
		id: zone.id,
		geometry: zone.geometry,
		properties: timeSeries
			? {
					...zone.properties,
					series: zone.series
						.toSorted((a, b) => Date.parse(a.datetime ?? "") - Date.parse(b.datetime ?? ""))
						.map(({ datetime, statistics }) => ({ datetime, ...ordered(statistics) })),
				}
			: { ...zone.properties, statistics: ordered((zone.series[0] as ZoneResult["series"][number]).statistics) },
	}));
	return JSON.stringify({ type: "FeatureCollection", features });
}

function referenceCsv(results: readonly ZoneResult[], keys: readonly string[]): string {
	const field = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
	const number = (value: number | null | undefined) => (value === null || value === undefined ? "" : String(value));
	const lines = [
		[
			"id",
			"datetime",
			"count",
			"nodata_count",
			"masked_count",
			"valid_fraction",
			"mean",
			"std",
			"min",
			"max",
			"sum",
			...keys,
		].join(","),
	];
	for (const zone of results) {
		for (const { datetime, statistics: s } of zone.series.toSorted(
			(a, b) => Date.parse(a.datetime ?? "") - Date.parse(b.datetime ?? ""),
		)) {
			lines.push(
				[
					field(zone.id),
					field(datetime ?? ""),
					String(s.count),
					String(s.nodata_count),
					String(s.masked_count),
					...[s.valid_fraction, s.mean, s.std, s.min, s.max, s.sum].map(number),
					...keys.map((key) => number(s.percentiles[key])),
				].join(","),
			);
		}
	}
	return `${lines.join("\r\n")}\r\n`;
}

describe("zones.geojson and zones.csv written piece by piece", () => {
	/** Enough zones that the text crosses many 64 KiB chunks, with ids and properties of 1 to 4 UTF-8 bytes a character. */
	const many = (dated: boolean): ZoneResult[] =>
		Array.from({ length: 1500 }, (_, i) => ({
			id: `champ-${i}-é${"ß€".repeat(i % 7)}${i % 5 === 0 ? "🌾" : ""}${i % 11 === 0 ? ', "quoted"' : ""}`,
			geometry: i % 2 === 0 ? square : islands,
			properties: i % 3 === 0 ? null : { name: `Flur ${"ä".repeat(i % 13)} 田んぼ ${i}`, emoji: "🛰️", i },
			series: dated
				? [2, 0, 1].map((day) => ({
						datetime: DATES[day] ?? null,
						statistics: statistics({ count: i + day, mean: i / 7 + day, percentiles: { p10: day, p90: null } }),
					}))
				: [
						{
							datetime: null,
							statistics: statistics(
								i % 4 === 0 ? { percentile_relative_error: 2 ** -8, mean: i / 3 } : { mean: i / 3 },
							),
						},
					],
		}));

	it("gives the very bytes of the collection stringified whole", () => {
		for (const timeSeries of [false, true]) {
			const zones = many(timeSeries);
			const bytes = drained(zonesGeoJson(zones, { timeSeries }));
			expect(bytes.byteLength).toBeGreaterThan(4 * 64 * 1024);
			expect(bytes).toEqual(new TextEncoder().encode(referenceGeoJson(zones, timeSeries)));
		}
		expect(text(zonesGeoJson([], { timeSeries: false }))).toBe('{"type":"FeatureCollection","features":[]}');
	});

	it("gives the very bytes of the rows joined", () => {
		for (const dated of [false, true]) {
			const zones = many(dated);
			const bytes = drained(zonesCsv(zones, PERCENTILE_KEYS));
			expect(bytes.byteLength).toBeGreaterThan(2 * 64 * 1024);
			expect(bytes).toEqual(new TextEncoder().encode(referenceCsv(zones, PERCENTILE_KEYS)));
		}
		expect(text(zonesCsv([], PERCENTILE_KEYS))).toBe(`${referenceCsv([], PERCENTILE_KEYS)}`);
	});
});

describe("an artifact written zone range by zone range", () => {
	// Seven zones of a series in ranges of 3, 3 and 1, as publish's steps write a large job.
	const zones = Array.from({ length: 7 }, (_, i) => ({ ...(timeSeries[i % 2] as ZoneResult), id: `zone ${i}` }));
	const ranges = [zones.slice(0, 3), zones.slice(3, 6), zones.slice(6)];
	const parts = ranges.map((_, i) => ({ first: i === 0, last: i === ranges.length - 1 }));

	it("is the same bytes as the artifact written whole; zones.parquet the same rows, a row group a range", async () => {
		expect(concatenated(ranges.map((range, i) => drained(zonesCsv(range, PERCENTILE_KEYS, parts[i]))))).toEqual(
			drained(zonesCsv(zones, PERCENTILE_KEYS)),
		);
		expect(
			concatenated(ranges.map((range, i) => drained(zonesGeoJson(range, { timeSeries: true }, parts[i])))),
		).toEqual(drained(zonesGeoJson(zones, { timeSeries: true })));
		const file = new ZonesParquet(zones, PERCENTILE_KEYS, { timeSeries: true });
		const pieces = ranges.map((range) => {
			file.add(range);
			return file.take();
		});
		file.finish();
		pieces.push(file.take());
		const inParts = await readParquet(concatenated(pieces));
		const whole = await readParquet(zonesParquet(zones, PERCENTILE_KEYS, { timeSeries: true }));
		expect(inParts.rows).toEqual(whole.rows);
		expect(inParts.metadata.row_groups.map((group) => group.num_rows)).toEqual([3n, 3n, 1n]);
		expect(inParts.metadata.key_value_metadata).toEqual(whole.metadata.key_value_metadata);
	});
});

describe("zones.parquet", () => {
	it("writes one row per zone with WKB geometry, the statistics and GeoParquet 1.1 metadata", async () => {
		const { metadata, rows } = await readParquet(zonesParquet(singleDate, PERCENTILE_KEYS, { timeSeries: false }));
		expect(metadata.schema.slice(1).map((element) => element.name)).toEqual([
			"id",
			"geometry",
			"properties",
			...STATISTIC_NAMES.slice(0, -1),
			...PERCENTILE_KEYS,
		]);
		const geo = JSON.parse(metadata.key_value_metadata?.find(({ key }) => key === "geo")?.value ?? "null");
		expect(geo).toEqual({
			version: "1.1.0",
			primary_column: "geometry",
			columns: {
				geometry: { encoding: "WKB", geometry_types: ["Polygon", "MultiPolygon"], bbox: [-1.5, 45, 11, 50.5] },
			},
		});

		expect(rows).toHaveLength(2);
		const [field, coast] = rows;
		expect(field?.id).toBe('field "north", plot 1');
		expect(decodeWkb(field?.geometry)).toEqual({ type: "Polygon", coordinates: planar(square.coordinates) });
		expect(decodeWkb(coast?.geometry)).toEqual({ type: "MultiPolygon", coordinates: islands.coordinates });
		expect(field?.properties).toEqual({ crop: "wheat", area_ha: 12.5, tags: ["a", "b"] });
		expect(coast?.properties).toBeNull();
		expect(field).toMatchObject({
			count: 120,
			nodata_count: 3,
			masked_count: 7,
			valid_fraction: 120 / 130,
			mean: 0.1 + 0.2,
			std: 1e-7,
			min: -0.5,
			max: 123456789.12345679,
			sum: 36.00000000000001,
			p10: 0.1,
			p90: 0.9,
		});
		expect(coast).toMatchObject({ count: 0, valid_fraction: 0, mean: null, sum: null, p10: null, p90: null });
		// One date's statistic columns carry their bounds, for readers that skip row groups by them.
		const bounds = boundsByColumn(metadata);
		expect(bounds.get("mean")).toMatchObject({ min_value: 0.1 + 0.2, max_value: 0.1 + 0.2, null_count: 1n });
		expect(bounds.get("count")).toMatchObject({ min_value: -0, max_value: 120 });
	});

	it("is read as GeoParquet by a reader that knows the geo metadata", async () => {
		const { rows } = await readParquet(zonesParquet(singleDate, PERCENTILE_KEYS, { timeSeries: false }), {
			geoparquet: true,
		});
		expect(rows.map((row) => row.geometry)).toEqual([
			{ type: "Polygon", coordinates: planar(square.coordinates) },
			islands,
		]);
	});

	it("holds a time series as list columns in chronological order", async () => {
		const { metadata, rows } = await readParquet(zonesParquet(timeSeries, PERCENTILE_KEYS, { timeSeries: true }));
		const datetime = metadata.schema.findIndex((element) => element.name === "datetime");
		expect(metadata.schema.slice(datetime, datetime + 3)).toMatchObject([
			{ name: "datetime", converted_type: "LIST", repetition_type: "REQUIRED" },
			{ name: "list", repetition_type: "REPEATED" },
			{ name: "element", type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" } },
		]);
		expect(rows).toHaveLength(2);
		for (const row of rows) {
			expect(row.datetime).toEqual(DATES.map((date) => new Date(date)));
			expect(row.count).toEqual([100, 101, 102]);
			expect(row.mean).toEqual([0, 1 / 3, 2 / 3]);
			expect(row.p10).toEqual([0, 1, 2]);
			expect(row.p90).toEqual([null, null, null]);
		}
		expect(decodeWkb(rows[1]?.geometry).coordinates).toEqual(islands.coordinates);
		// A list's bounds would bound its elements, which filters no row: the lists carry none.
		const bounds = boundsByColumn(metadata);
		for (const name of ["datetime", "count", "mean", "p10"]) expect(bounds.get(name), name).toBeUndefined();
		expect(bounds.get("id")).toBeDefined();
	});

	it("writes many zones in row groups of bounded size", async () => {
		const zones = Array.from({ length: 2 * ZONES_PER_ROW_GROUP + 1 }, (_, index) => ({
			...singleDate[0],
			id: `zone ${index}`,
			series: [{ datetime: null, statistics: statistics({ count: index }) }],
		})) as ZoneResult[];
		const { metadata, rows } = await readParquet(zonesParquet(zones, PERCENTILE_KEYS, { timeSeries: false }));
		expect(metadata.row_groups.map((group) => group.num_rows)).toEqual([
			BigInt(ZONES_PER_ROW_GROUP),
			BigInt(ZONES_PER_ROW_GROUP),
			1n,
		]);
		expect(rows.map((row) => row.count)).toEqual(zones.map((_, index) => index));
	});

	it("writes a valid file without zones, its geo metadata without a bbox", async () => {
		const { metadata, rows } = await readParquet(zonesParquet([], PERCENTILE_KEYS, { timeSeries: true }));
		expect(rows).toEqual([]);
		expect(JSON.parse(metadata.key_value_metadata?.[0]?.value ?? "null").columns.geometry).toEqual({
			encoding: "WKB",
			geometry_types: [],
		});
	});

	it("refuses coordinates that are not the geometry's type", () => {
		const broken = [{ ...singleDate[0], geometry: { type: "MultiPolygon", coordinates: square.coordinates } }];
		expect(() => zonesParquet(broken as ZoneResult[], PERCENTILE_KEYS, { timeSeries: false })).toThrow(
			/not a MultiPolygon/,
		);
	});
});

describe("the fields-outside-inputs warning", () => {
	const missed = statistics({ count: 0, nodata_count: 0, masked_count: 0, valid_fraction: null, mean: null });
	const zone = (id: string, ...entries: ZoneStatistics[]) => ({
		id,
		series: entries.map((entry) => ({ datetime: null, statistics: entry })),
	});

	const warningsOf = (zones: Pick<ZoneResult, "id" | "series">[]) =>
		outsideFieldsWarnings(countOutside(zones), zones.length);

	it("names the fields no date covers, not those covered by nodata or a mask on some date", () => {
		const cloudy = statistics({ count: 0, nodata_count: 0, masked_count: 4, valid_fraction: 0 });
		const warnings = warningsOf([
			zone("a", missed, missed),
			zone("b", missed, cloudy),
			zone("c", statistics(), missed),
			zone("d", missed, missed),
		]);
		expect(warnings).toEqual([
			{ code: "fields-outside-inputs", message: expect.stringMatching(/^2 of 4 fields \('a', 'd'\) lie outside/) },
		]);
		expect(warningsOf([zone("b", missed, cloudy)])).toEqual([]);
	});

	it("says all when every field misses, naming five and counting the rest", () => {
		const zones = Array.from({ length: 7 }, (_, i) => zone(String(i), missed));
		expect(warningsOf(zones)[0]?.message).toMatch(/^All 7 fields \('0', '1', '2', '3', '4' and 2 more\)/);
		// Counted range by range (publish's steps), the same warning.
		const byRanges = countOutside(zones.slice(4), countOutside(zones.slice(0, 4)));
		expect(outsideFieldsWarnings(byRanges, 7)).toEqual(warningsOf(zones));
	});
});
