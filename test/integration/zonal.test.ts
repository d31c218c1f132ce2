/**
 * Per-field statistics (the zonal_statistics process), job by job over HTTP through every queue,
 * against what Shapely, pyproj and numpy computed (test/fixtures/t2/manifest-t2.json
 * `zonal_cases`): exact coverage fractions, centres and all-touched pixels over fields with a
 * hole, several parts, a sliver, one smaller than a pixel, fields at and beyond the raster's
 * edge, two sharing an edge, one over nodata, and a three-date series under SCL masks.
 */
import { env } from "cloudflare:workers";
import { parquetReadObjects } from "hyparquet";
import proj4 from "proj4";
import { describe, expect, it } from "vitest";
import { getJob } from "../../src/db/jobs";
import { remoteBytesRead } from "../../src/db/remote-bytes";
import type { ZonalPlan } from "../../src/processes/zonal/plan";
import { FIELD_DATES_IN_ONE_INVOCATION } from "../../src/processes/zonal/publish";
import { type FeatureStatistics, WeightedStatistics } from "../../src/processes/zonal/weighted-statistics";
import { pixelCoverage, polygonsInPixels } from "../../src/raster/coverage";
import { objectKeys } from "../../src/storage/keys";
import largeTiled from "../fixtures/aoi/large_tiled.tif";
import fieldsGeojson from "../fixtures/t2/fields.geojson?raw";
import lsNir from "../fixtures/t2/ls_nir_30m.tif";
import lsRed from "../fixtures/t2/ls_red_30m.tif";
import manifest from "../fixtures/t2/manifest-t2.json";
import nir10 from "../fixtures/t2/nir_10m.tif";
import nirD1 from "../fixtures/t2/nir_d1.tif";
import nirD2 from "../fixtures/t2/nir_d2.tif";
import nirD3 from "../fixtures/t2/nir_d3.tif";
import red10 from "../fixtures/t2/red_10m.tif";
import redD1 from "../fixtures/t2/red_d1.tif";
import redD2 from "../fixtures/t2/red_d2.tif";
import redD3 from "../fixtures/t2/red_d3.tif";
import rotated from "../fixtures/t2/rotated_10m.tif";
import sclD1 from "../fixtures/t2/scl_d1.tif";
import sclD2 from "../fixtures/t2/scl_d2.tif";
import sclD3 from "../fixtures/t2/scl_d3.tif";
import crsCases from "../fixtures/zonal-crs/cases.json";
import laea3035Nir from "../fixtures/zonal-crs/laea_3035_nir.tif";
import laea3035Red from "../fixtures/zonal-crs/laea_3035_red.tif";
import lambert932154Nir from "../fixtures/zonal-crs/lambert93_2154_nir.tif";
import lambert932154Red from "../fixtures/zonal-crs/lambert93_2154_red.tif";
import lonlat4326Nir from "../fixtures/zonal-crs/lonlat_4326_nir.tif";
import lonlat4326Red from "../fixtures/zonal-crs/lonlat_4326_red.tif";
import utmSouth32733Nir from "../fixtures/zonal-crs/utm_south_32733_nir.tif";
import utmSouth32733Red from "../fixtures/zonal-crs/utm_south_32733_red.tif";
import webMercator3857Nir from "../fixtures/zonal-crs/web_mercator_3857_nir.tif";
import webMercator3857Red from "../fixtures/zonal-crs/web_mercator_3857_red.tif";
import { api, apiWith, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { openRaster, wholeWindow } from "../rasters";
import { createTenantKey } from "../tenants";

const files: Record<string, ArrayBuffer> = {
	"red_10m.tif": red10,
	"rotated_10m.tif": rotated,
	"ls_red_30m.tif": lsRed,
	"ls_nir_30m.tif": lsNir,
	"nir_10m.tif": nir10,
	"red_d1.tif": redD1,
	"nir_d1.tif": nirD1,
	"scl_d1.tif": sclD1,
	"red_d2.tif": redD2,
	"nir_d2.tif": nirD2,
	"scl_d2.tif": sclD2,
	"red_d3.tif": redD3,
	"nir_d3.tif": nirD3,
	"scl_d3.tif": sclD3,
	"laea_3035_red.tif": laea3035Red,
	"laea_3035_nir.tif": laea3035Nir,
	"lonlat_4326_red.tif": lonlat4326Red,
	"lonlat_4326_nir.tif": lonlat4326Nir,
	"utm_south_32733_red.tif": utmSouth32733Red,
	"utm_south_32733_nir.tif": utmSouth32733Nir,
	"web_mercator_3857_red.tif": webMercator3857Red,
	"web_mercator_3857_nir.tif": webMercator3857Nir,
	"lambert93_2154_red.tif": lambert932154Red,
	"lambert93_2154_nir.tif": lambert932154Nir,
};

/** A field's statistics as the outputs give them (with its date in a series). */
type Statistics = FeatureStatistics & { datetime?: string | null };

type Inputs = Record<string, { file: string } & Record<string, unknown>>;
interface ZonalCase {
	request: Record<string, unknown> & { inputs?: Inputs; dates?: { inputs: Inputs }[] };
	expected?: Record<string, Statistics>;
	expected_series?: Record<string, Statistics[]>;
}

const fields = JSON.parse(fieldsGeojson) as { type: "FeatureCollection"; features: unknown[] };
const cases = manifest.zonal_cases as unknown as Record<string, ZonalCase>;

const uploaded = new Map<string, string>();
async function uploadedInputs(inputs: Inputs): Promise<Record<string, Record<string, unknown>>> {
	const entries = await Promise.all(
		Object.entries(inputs).map(async ([name, { file, ...rest }]) => {
			let id = uploaded.get(file);
			if (!id) {
				const bytes = files[file];
				if (!bytes) throw new Error(`fixture ${file} is not loaded`);
				id = (await upload(bytes)).id;
				uploaded.set(file, id);
			}
			return [name, { upload_id: id, ...rest }] as const;
		}),
	);
	return Object.fromEntries(entries);
}

async function fieldSet(): Promise<string> {
	const response = await api("/v1/fields", {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(fields),
	});
	const created = await json<{ id: string; features: number }>(response);
	expect(response.status, JSON.stringify(created)).toBe(201);
	expect(created.features).toBe(fields.features.length);
	return created.id;
}

/** The case's request with uploads for files and the field set (or the collection inline) for zones. */
async function caseRequest(spec: ZonalCase, zones: "field_set" | "inline"): Promise<Record<string, unknown>> {
	const { inputs, dates, ...rest } = spec.request;
	return {
		...rest,
		zones: zones === "inline" ? fields : { field_set_id: await fieldSet() },
		...(inputs ? { inputs: await uploadedInputs(inputs) } : {}),
		...(dates
			? {
					dates: await Promise.all(dates.map(async (date) => ({ ...date, inputs: await uploadedInputs(date.inputs) }))),
				}
			: {}),
	};
}

async function artifact(jobId: string, name: string): Promise<Response> {
	const response = await api(`/v1/jobs/${jobId}/artifacts/${name}`);
	expect(response.status).toBe(200);
	return response;
}

/** Within 1e-6 relative (1e-9 absolute near 0); percentiles exact; nulls where expected. */
function expectStatistics(actual: Statistics, expected: Statistics, where: string): void {
	for (const key of [
		"count",
		"nodata_count",
		"masked_count",
		"valid_fraction",
		"mean",
		"std",
		"min",
		"max",
		"sum",
	] as const) {
		const want = expected[key];
		const got = actual[key];
		if (want === null) {
			expect(got, `${where} ${key}`).toBeNull();
			continue;
		}
		expect(got, `${where} ${key}`).not.toBeNull();
		expect(Math.abs((got as number) - want), `${where} ${key}: ${got} vs ${want}`).toBeLessThanOrEqual(
			Math.max(1e-9, 1e-6 * Math.abs(want)),
		);
	}
	for (const [key, want] of Object.entries(expected.percentiles)) {
		const got = actual.percentiles[key];
		if (want === null) expect(got, `${where} ${key}`).toBeNull();
		else expect(got, `${where} ${key}`).toBe(Math.fround(want));
	}
}

interface ZonesGeoJson {
	type: "FeatureCollection";
	features: { id: string; properties: { statistics?: Statistics; series?: Statistics[] } }[];
}

async function runCase(name: string, zones: "field_set" | "inline"): Promise<{ id: string; geojson: ZonesGeoJson }> {
	const spec = cases[name];
	if (!spec) throw new Error(`no case ${name}`);
	const response = await submitJob(await caseRequest(spec, zones));
	const created = await json<{ id: string }>(response);
	expect(response.status, JSON.stringify(created)).toBe(202);
	const job = await waitForJob(created.id);
	expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
	const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
	return { id: job.id, geojson };
}

describe("zonal statistics against Shapely and numpy", () => {
	for (const name of ["zonal_ndvi_fraction", "zonal_ndvi_center", "zonal_ndvi_all_touched"]) {
		it(`${name}: every field's statistics`, async () => {
			const expected = cases[name]?.expected ?? {};
			const { geojson } = await runCase(name, name === "zonal_ndvi_fraction" ? "field_set" : "inline");
			expect(geojson.features.map((feature) => feature.id)).toEqual(Object.keys(expected));
			for (const feature of geojson.features) {
				const statistics = feature.properties.statistics;
				if (!statistics) throw new Error(`${feature.id} has no statistics`);
				expectStatistics(statistics, expected[feature.id] as Statistics, `${name} ${feature.id}`);
			}
		});
	}

	it("zonal_series_scl: each field's series of three dates under their SCL masks", async () => {
		const expected = cases.zonal_series_scl?.expected_series ?? {};
		const { id, geojson } = await runCase("zonal_series_scl", "field_set");
		for (const feature of geojson.features) {
			const series = feature.properties.series ?? [];
			const want = expected[feature.id] ?? [];
			expect(series.map((entry) => entry.datetime)).toEqual(want.map((entry) => entry.datetime));
			series.forEach((entry, i) => {
				expectStatistics(entry, want[i] as Statistics, `${feature.id} ${entry.datetime}`);
			});
		}
		const csv = await (await artifact(id, "zones.csv")).text();
		const [header, ...rows] = csv.trimEnd().split("\r\n");
		expect(header).toBe("id,datetime,count,nodata_count,masked_count,valid_fraction,mean,std,min,max,sum,p2,p50,p98");
		expect(rows).toHaveLength(Object.keys(expected).length * 3);
		const parquet = await (await artifact(id, "zones.parquet")).arrayBuffer();
		const records = await parquetReadObjects({ file: parquet });
		expect(records.map((record) => record.id)).toEqual(Object.keys(expected));
	});
});

describe("zonal statistics on grids in other CRSs, against Shapely and pyproj (test/fixtures/zonal-crs)", () => {
	for (const [name, spec] of Object.entries(crsCases)) {
		it(`${name} (EPSG:${spec.epsg}): every field's statistics, its vertices transformed from longitude/latitude`, async () => {
			const response = await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				inputs: await uploadedInputs({ red: { file: spec.red }, nir: { file: spec.nir } }),
				zones: spec.zones,
			});
			const created = await json<{ id: string }>(response);
			expect(response.status, JSON.stringify(created)).toBe(202);
			const job = await waitForJob(created.id);
			expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
			const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
			const expected = spec.expected as Record<string, Statistics>;
			expect(geojson.features.map((feature) => feature.id)).toEqual(Object.keys(expected));
			for (const feature of geojson.features) {
				const statistics = feature.properties.statistics;
				if (!statistics) throw new Error(`${feature.id} has no statistics`);
				expectStatistics(statistics, expected[feature.id] as Statistics, `${name} ${feature.id}`);
			}
		});
	}
});

describe("zonal statistics: plans, options and what the job shows", () => {
	it("a field cut by several windows is joined whole: the same statistics as weighed over the raster at once", async () => {
		// A 1536 x 1536 raster in 256 x 256 tiles is planned in windows of 512 x 512 at most; the
		// field is centred on the corner that four windows share.
		const toLonLat = proj4("+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs", "EPSG:4326");
		const centre: [number, number] = [600000 + 512 * 10, 5300040 - 512 * 10];
		const ring = [0, 1, 2, 3, 4, 5, 6, 0].map((k) => {
			const angle = (k * Math.PI) / 3 + 0.2;
			const radius = 330 + 40 * (k % 2);
			return toLonLat.forward([centre[0] + radius * Math.cos(angle), centre[1] + radius * Math.sin(angle)]) as [
				number,
				number,
			];
		});
		const zones = {
			type: "FeatureCollection",
			features: [
				{ type: "Feature", id: "across", properties: null, geometry: { type: "Polygon", coordinates: [ring] } },
			],
		};
		const { id } = await upload(largeTiled);
		const inputs = { red: { upload_id: id, band: 1 }, nir: { upload_id: id, band: 2 } };
		const response = await submitJob({ process: "zonal_statistics", index: "ndvi", inputs, zones });
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const plan = (await getJob(env.DB, job.id))?.plan as ZonalPlan;
		expect(plan.zonal.windows.length).toBeGreaterThan(1);
		expect(plan.zonal.windows.every((window) => window.features.includes(0))).toBe(true);
		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		const actual = geojson.features[0]?.properties.statistics as Statistics;

		const { image, grid } = await openRaster(largeTiled);
		const [red, nir] = (await image.readRasters({ interleave: false })) as unknown as [Uint16Array, Uint16Array];
		const polygons = polygonsInPixels({ type: "Polygon", coordinates: [ring] }, grid);
		const whole = wholeWindow(grid);
		const coverage = pixelCoverage(polygons, "fraction", whole);
		if (!coverage) throw new Error("the field covers nothing");
		const reference = new WeightedStatistics();
		for (let row = 0; row < coverage.height; row++) {
			for (let column = 0; column < coverage.width; column++) {
				const weight = coverage.weights[row * coverage.width + column] as number;
				const pixel = (coverage.rowStart + row) * grid.width + coverage.colStart + column;
				const [r, n] = [red[pixel] as number, nir[pixel] as number];
				reference.add(Math.fround((n - r) / (n + r)), weight);
			}
		}
		expectStatistics(actual, reference.finish([2, 50, 98]), "across");
		expect(actual.count).toBeGreaterThan(3000);
	});

	it("a job of more field-dates than one invocation publishes goes in steps, a delivery each, with the same statistics", async () => {
		// The series' fields copied (ids of their own) until fields x dates pass what one invocation publishes.
		const spec = cases.zonal_series_scl as ZonalCase;
		const expected = spec.expected_series ?? {};
		const originals = fields.features as { id: string }[];
		const copies = Math.floor(FIELD_DATES_IN_ONE_INVOCATION / (originals.length * 3)) + 1;
		const zones = {
			type: "FeatureCollection",
			features: Array.from({ length: copies }, (_, copy) =>
				originals.map((feature) => ({ ...feature, id: `${feature.id}~${copy}` })),
			).flat(),
		};
		expect(zones.features.length * 3).toBeGreaterThan(FIELD_DATES_IN_ONE_INVOCATION);
		const response = await submitJob({ ...(await caseRequest(spec, "inline")), zones });
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");

		const { events } = await json<{
			events: { stage: string; status: string; detail: Record<string, unknown> | null }[];
		}>(await api(`/v1/jobs/${job.id}/events`));
		const published = events.filter((event) => event.stage === "publish" && event.status === "succeeded");
		expect(published.map((event) => [event.detail?.step, event.detail?.made])).toEqual([
			[undefined, "statistics"],
			[1, "zones.csv"],
			[2, "zones.geojson"],
			[3, "zones.parquet"],
			[4, undefined],
		]);
		expect(published.at(-1)?.detail).toMatchObject({ fields: zones.features.length, dates: 3 });

		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		expect(geojson.features.map((feature) => feature.id)).toEqual(zones.features.map((feature) => feature.id));
		for (const feature of geojson.features) {
			const want = expected[feature.id.split("~")[0] as string] ?? [];
			const series = feature.properties.series ?? [];
			expect(series.map((entry) => entry.datetime)).toEqual(want.map((entry) => entry.datetime));
			series.forEach((entry, i) => {
				expectStatistics(entry, want[i] as Statistics, `${feature.id} ${entry.datetime}`);
			});
		}
		const csv = await (await artifact(job.id, "zones.csv")).text();
		expect(csv.trimEnd().split("\r\n")).toHaveLength(1 + zones.features.length * 3);
		const records = await parquetReadObjects({ file: await (await artifact(job.id, "zones.parquet")).arrayBuffer() });
		expect(records.map((record) => record.id)).toEqual(zones.features.map((feature) => feature.id));
		const item = await json<{ assets: Record<string, { "file:size": number }> }>(await artifact(job.id, "item.json"));
		expect(item.assets["zones.csv"]?.["file:size"]).toBe(new TextEncoder().encode(csv).byteLength);
		// The joined table went with the job's other work objects once it succeeded.
		const work = await env.BUCKET.list({ prefix: objectKeys.workPrefix(job.id) });
		expect(work.objects).toEqual([]);
	});

	it("reads only the tiles its fields touch, each once", async () => {
		const file = "https://cogs.test/files/aoi/large_tiled.tif";
		const toLonLat = proj4("+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs", "EPSG:4326");
		// 400 m squares, far apart, each inside one 256 x 256 tile (2.56 km) of the 6 x 6.
		const square = (x: number, y: number) =>
			[
				[x, y],
				[x + 400, y],
				[x + 400, y + 400],
				[x, y + 400],
				[x, y],
			].map((point) => toLonLat.forward(point) as [number, number]);
		// Two fields, and one of two parts over the same two: a part reads its own tiles, not the
		// 5 x 5 of the box around both.
		const zones = {
			type: "FeatureCollection",
			features: [
				{ type: "Feature", properties: null, geometry: { type: "Polygon", coordinates: [square(601000, 5298000)] } },
				{ type: "Feature", properties: null, geometry: { type: "Polygon", coordinates: [square(612000, 5287000)] } },
				{
					type: "Feature",
					properties: null,
					geometry: { type: "MultiPolygon", coordinates: [[square(601000, 5298000)], [square(612000, 5287000)]] },
				},
			],
		};
		const response = await submitJob({
			process: "zonal_statistics",
			index: "ndvi",
			inputs: { red: { href: file, band: 1 }, nir: { href: file, band: 2 } },
			zones,
		});
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		const counts = geojson.features.map((feature) => feature.properties.statistics?.count ?? 0);
		expect(counts[0]).toBeCloseTo(1600, 3);
		expect(counts[1]).toBeCloseTo(1600, 3);
		expect(counts[2]).toBeCloseTo(3200, 3);
		// The 2.4 MB file holds 36 tiles of about 66 KB: the header and the fields' tiles are read,
		// in the ranged reader's 64 KiB ranges (a tile straddles three).
		const bytes = await remoteBytesRead(env.DB, job.id);
		expect(bytes).toBeGreaterThan(2 * 60_000);
		expect(bytes).toBeLessThanOrEqual(10 * 65_536);
	});

	it("a series' dates may lie on different grids: each date's statistics are its own scene's", async () => {
		const sentinel = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const landsat = await uploadedInputs({
			red: { file: "ls_red_30m.tif", scale: 2.75e-5, offset: -0.2 },
			nir: { file: "ls_nir_30m.tif", scale: 2.75e-5, offset: -0.2 },
		});
		const run = async (body: Record<string, unknown>) => {
			const response = await submitJob({ process: "zonal_statistics", index: "ndvi", zones: fields, ...body });
			const job = await waitForJob((await json<{ id: string }>(response)).id);
			expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
			return json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		};
		const series = await run({
			dates: [
				{ datetime: "2026-06-01T10:00:00Z", inputs: landsat },
				{ datetime: "2026-05-01T10:00:00Z", inputs: sentinel },
			],
		});
		const [alone10, alone30] = await Promise.all([run({ inputs: sentinel }), run({ inputs: landsat })]);
		series.features.forEach((feature, f) => {
			const [may, june] = feature.properties.series ?? [];
			expect(may?.datetime).toBe("2026-05-01T10:00:00Z");
			expect(may).toMatchObject(alone10.features[f]?.properties.statistics ?? {});
			expect(june).toMatchObject(alone30.features[f]?.properties.statistics ?? {});
		});
		// The 30 m scene weighs the fields on its own, coarser pixels.
		expect(series.features[0]?.properties.series?.[1]?.count).not.toBeCloseTo(
			series.features[0]?.properties.series?.[0]?.count ?? 0,
			1,
		);
	});

	it("a job whose fields all miss the raster succeeds, every field counted 0", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const far = {
			type: "FeatureCollection",
			features: [
				{
					type: "Feature",
					id: "far",
					properties: { crop: "maize" },
					geometry: {
						type: "Polygon",
						coordinates: [
							[
								[14.0, 45.0],
								[14.01, 45.0],
								[14.01, 45.01],
								[14.0, 45.01],
								[14.0, 45.0],
							],
						],
					},
				},
			],
		};
		const response = await submitJob({ process: "zonal_statistics", index: "ndvi", inputs, zones: far });
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		expect(geojson.features[0]?.properties).toMatchObject({
			crop: "maize",
			statistics: { count: 0, valid_fraction: null, mean: null, percentiles: { p2: null, p50: null, p98: null } },
		});
		expect(job.warnings).toEqual([
			{
				code: "fields-outside-inputs",
				message: expect.stringMatching(/^The job's one field \('far'\) lies outside the inputs/),
			},
		]);
	});

	it("min_valid_fraction nulls a cloudy date's statistics and keeps its counts; percentiles follow the request", async () => {
		const spec = cases.zonal_series_scl as ZonalCase;
		const request = { ...(await caseRequest(spec, "inline")), min_valid_fraction: 0.5, percentiles: [10, 90] };
		const response = await submitJob(request);
		const created = await json<{ id: string }>(response);
		expect(response.status, JSON.stringify(created)).toBe(202);
		const job = await waitForJob(created.id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const shown = await json<{ inputs: object; dates: { datetime: string }[]; zones: Record<string, unknown> }>(
			await api(`/v1/jobs/${job.id}`),
		);
		expect(shown.inputs).toEqual({});
		expect(shown.dates.map((date) => date.datetime)).toEqual(
			spec.request.dates?.map((date) => (date as unknown as { datetime: string }).datetime),
		);
		expect(shown.zones).toEqual({
			field_set_id: null,
			coverage: "fraction",
			percentiles: [10, 90],
			min_valid_fraction: 0.5,
		});
		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		const wheat = geojson.features.find((feature) => feature.id === "wheat-1")?.properties.series ?? [];
		const cloudy = spec.expected_series?.["wheat-1"]?.[1] as Statistics;
		expect(wheat[1]).toMatchObject({ mean: null, std: null, sum: null, percentiles: { p10: null, p90: null } });
		expect(wheat[1]?.count).toBeCloseTo(cloudy.count, 6);
		expect(wheat[1]?.masked_count).toBeCloseTo(cloudy.masked_count, 6);
		expect(wheat[0]?.mean).toBeCloseTo(spec.expected_series?.["wheat-1"]?.[0]?.mean as number, 9);
		const csv = await (await artifact(job.id, "zones.csv")).text();
		expect(csv.split("\r\n")[0]).toBe(
			"id,datetime,count,nodata_count,masked_count,valid_fraction,mean,std,min,max,sum,p10,p90",
		);
	});
});

describe("zonal statistics: requests it refuses", () => {
	it("needs zones, and a field set of the tenant's", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		await expectProblem(
			await submitJob({ process: "zonal_statistics", index: "ndvi", inputs }),
			422,
			"validation-failed",
		);
		const missing = await expectProblem(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				inputs,
				zones: { field_set_id: "fld_0123456789abcdef01234567" },
			}),
			422,
			"unknown-field-set",
		);
		expect(missing.errors?.[0]?.path).toBe("zones.field_set_id");

		const { key } = await createTenantKey();
		const theirs = await json<{ id: string }>(
			await api("/v1/fields", {
				method: "POST",
				headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
				body: JSON.stringify(fields),
			}),
		);
		const borrowed = await expectProblem(
			await submitJob({ process: "zonal_statistics", index: "ndvi", inputs, zones: { field_set_id: theirs.id } }),
			422,
			"unknown-field-set",
		);
		expect(borrowed.detail).toBe(`field set ${theirs.id} does not exist`);
	});

	it("refuses a bad geometry inline, naming the feature", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const bowtie = {
			type: "FeatureCollection",
			features: [
				{
					type: "Feature",
					properties: {},
					geometry: {
						type: "Polygon",
						coordinates: [
							[
								[16.34, 47.83],
								[16.35, 47.84],
								[16.35, 47.83],
								[16.34, 47.84],
								[16.34, 47.83],
							],
						],
					},
				},
			],
		};
		const problem = await expectProblem(
			await submitJob({ process: "zonal_statistics", index: "ndvi", inputs, zones: bowtie }),
			422,
			"validation-failed",
		);
		expect(problem.errors?.[0]?.path).toMatch(/^zones\.features\[0\]\.geometry/);
	});

	it("refuses inputs and dates together, index-only fields, and zonal fields on an index job", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const both = await expectProblem(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				inputs,
				dates: [{ datetime: "2026-05-04T10:20:31Z", inputs }],
				zones: fields,
			}),
			422,
			"validation-failed",
		);
		expect(both.errors?.map((error) => error.path)).toContain("dates");
		const raster = await expectProblem(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				inputs,
				zones: fields,
				aoi: { bbox: [16, 47, 17, 48] },
			}),
			422,
			"validation-failed",
		);
		expect(raster.errors?.map((error) => error.path)).toContain("aoi");
		const index = await expectProblem(
			await submitJob({ index: "ndvi", inputs, coverage: "center" }),
			422,
			"validation-failed",
		);
		expect(index.errors?.map((error) => error.path)).toContain("coverage");
	});

	it("a date's input that fails in the pipeline is named in the request's terms", async () => {
		const file = "https://cogs.test/files/s2_red_256.tif";
		const response = await submitJob({
			process: "zonal_statistics",
			index: "ndvi",
			zones: fields,
			dates: [
				{ datetime: "2026-05-04T10:20:31Z", inputs: { red: { href: file }, nir: { href: file } } },
				{ datetime: "2026-05-19T10:20:29Z", inputs: { red: { href: file }, nir: { href: file, band: 3 } } },
			],
		});
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status).toBe("failed");
		expect(job.error?.errors?.[0]?.path).toBe("dates[1].inputs.nir.band");
		expect(job.error?.detail).toContain("'nir' of dates[1]");
	});

	it("a job keeps its copy of a field set: deleting the set after submitting changes nothing", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const fieldSetId = await fieldSet();
		const response = await submitJob({
			process: "zonal_statistics",
			index: "ndvi",
			inputs,
			zones: { field_set_id: fieldSetId },
		});
		expect(response.status).toBe(202);
		expect((await api(`/v1/fields/${fieldSetId}`, { method: "DELETE" })).status).toBe(204);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const geojson = await json<ZonesGeoJson>(await artifact(job.id, "zones.geojson"));
		const expected = cases.zonal_ndvi_fraction?.expected ?? {};
		expect(geojson.features.map((feature) => feature.id)).toEqual(Object.keys(expected));
	});

	it("refuses a grid with rotation terms, naming the inputs", async () => {
		const bytes = files["rotated_10m.tif"] as ArrayBuffer;
		const { id } = await upload(bytes);
		const response = await submitJob({
			process: "zonal_statistics",
			expression: "b * 1",
			inputs: { b: { upload_id: id } },
			zones: fields,
		});
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/unsupported-raster");
		expect(job.error?.errors?.[0]?.path).toBe("inputs");
	});

	it("holds a job to 100 000 field-dates, and its body to FIELDS_MAX_BODY_BYTES", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_10m.tif" }, nir: { file: "nir_10m.tif" } });
		const square = (i: number) => {
			const [x, y] = [16.3 + (i % 100) * 0.0002, 47.8 + Math.floor(i / 100) * 0.0002];
			return [
				[x, y],
				[x + 0.0001, y],
				[x + 0.0001, y + 0.0001],
				[x, y + 0.0001],
				[x, y],
			];
		};
		const many = {
			type: "FeatureCollection",
			features: Array.from({ length: 10_000 }, (_, i) => ({
				type: "Feature",
				properties: null,
				geometry: { type: "Polygon", coordinates: [square(i)] },
			})),
		};
		const dates = Array.from({ length: 11 }, (_, d) => ({
			datetime: `2026-05-${String(d + 1).padStart(2, "0")}T10:00:00Z`,
			inputs,
		}));
		const tooMany = await expectProblem(
			await submitJob({ process: "zonal_statistics", index: "ndvi", dates, zones: many }),
			422,
			"validation-failed",
		);
		expect(tooMany.errors?.[0]).toMatchObject({ path: "zones", message: expect.stringContaining("110000") });
		const large = await apiWith({ FIELDS_MAX_BODY_BYTES: 4096 }, "/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ process: "zonal_statistics", index: "ndvi", inputs, zones: many }),
		});
		await expectProblem(large, 413, "payload-too-large");
	});

	it("refuses two dates at one instant, naming the second", async () => {
		const inputs = await uploadedInputs({ red: { file: "red_d1.tif" }, nir: { file: "nir_d1.tif" } });
		const problem = await expectProblem(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				zones: fields,
				dates: [
					{ datetime: "2026-05-04T10:20:31Z", inputs },
					{ datetime: "2026-05-04T12:20:31+02:00", inputs },
				],
			}),
			422,
			"validation-failed",
		);
		expect(problem.errors?.map((error) => error.path)).toContain("dates[1].datetime");
	});

	it("names the date whose inputs the formula cannot use", async () => {
		const good = await uploadedInputs({ red: { file: "red_d1.tif" }, nir: { file: "nir_d1.tif" } });
		const problem = await expectProblem(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				zones: fields,
				dates: [
					{ datetime: "2026-05-04T10:20:31Z", inputs: good },
					{ datetime: "2026-05-19T10:20:29Z", inputs: { red: good.red } },
				],
			}),
			422,
			"invalid-inputs",
		);
		expect(problem.errors?.[0]?.path).toBe("dates[1].inputs.nir");
	});
});
