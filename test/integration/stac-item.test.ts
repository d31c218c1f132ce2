/**
 * Every succeeded job's item.json (src/stac/item.ts), job by job over HTTP through every queue:
 * its assets are the job's other artifacts, each href the artifact's route (from PUBLIC_BASE_URL,
 * else the submitting origin), its file:size and file:checksum those of the bytes the API
 * serves, its projection fields result.tif's own GeoTIFF grid, its footprint where the grid or
 * the fields lie, and its datetime the request's, the creation time's or a series' span. Its
 * validity against the STAC schemas is checked in Node (scripts/stac-item.test.ts, npm run
 * test:e2e), where the validator runs.
 */
import { fromArrayBuffer } from "geotiff";
import proj4 from "proj4";
import { describe, expect, it } from "vitest";
import { hex } from "../../src/ids";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import fieldsGeojson from "../fixtures/t2/fields.geojson?raw";
import nir10 from "../fixtures/t2/nir_10m.tif";
import nirD1 from "../fixtures/t2/nir_d1.tif";
import nirD2 from "../fixtures/t2/nir_d2.tif";
import red10 from "../fixtures/t2/red_10m.tif";
import redD1 from "../fixtures/t2/red_d1.tif";
import redD2 from "../fixtures/t2/red_d2.tif";
import { api, apiWith, BASE, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";

interface Asset {
	href: string;
	type: string;
	roles: string[];
	"file:size": number;
	"file:checksum": string;
	bands?: { data_type: string; nodata: number | string; statistics: Record<string, number> }[];
}

interface Item {
	type: string;
	stac_version: string;
	stac_extensions: string[];
	id: string;
	geometry: { type: "Polygon"; coordinates: [number, number][][] } | null;
	bbox?: [number, number, number, number];
	properties: Record<string, unknown>;
	links: { rel: string; href: string; type?: string }[];
	assets: Record<string, Asset>;
}

const fields = JSON.parse(fieldsGeojson) as {
	type: "FeatureCollection";
	features: { geometry: { type: string; coordinates: unknown } }[];
};

async function itemOf(jobId: string): Promise<Item> {
	const response = await api(`/v1/jobs/${jobId}/artifacts/item.json`);
	expect(response.status).toBe(200);
	expect(response.headers.get("content-type")).toBe("application/geo+json");
	return json<Item>(response);
}

async function succeeded(
	submitted: Response,
): Promise<{ id: string; created_at: string; artifacts: { name: string }[] }> {
	const created = await json<{ id: string }>(submitted);
	expect(submitted.status, JSON.stringify(created)).toBe(202);
	const job = await waitForJob(created.id);
	expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
	return job;
}

/** A job over uploads of `bands` as its red and nir inputs, submitted (by `submit`) and run to success. */
async function redNirJob(
	bands: [ArrayBuffer, ArrayBuffer],
	request: Record<string, unknown>,
	submit: (body: unknown) => Promise<Response> = submitJob,
) {
	const [red, nir] = await Promise.all(bands.map(upload));
	if (!red || !nir) throw new Error("an upload is missing");
	const job = await succeeded(
		await submit({ ...request, inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } } }),
	);
	return { job, red, nir };
}

/** Each asset's href is its artifact's route under `base`, and its size and checksum are those of the bytes served there. */
async function expectAssetsServed(item: Item, base: string): Promise<Map<string, ArrayBuffer>> {
	const served = new Map<string, ArrayBuffer>();
	for (const [name, asset] of Object.entries(item.assets)) {
		const route = `/v1/jobs/${item.id}/artifacts/${name}`;
		expect(asset.href).toBe(`${base}${route}`);
		const bytes = await (await api(route)).arrayBuffer();
		expect(asset["file:size"], name).toBe(bytes.byteLength);
		expect(asset["file:checksum"], name).toBe(`1220${hex(await crypto.subtle.digest("SHA-256", bytes))}`);
		served.set(name, bytes);
	}
	return served;
}

/** [west, south, east, north] of positions. */
function extentOf(positions: readonly (readonly number[])[]): number[] {
	return [
		Math.min(...positions.map(([lon = 0]) => lon)),
		Math.min(...positions.map(([, lat = 0]) => lat)),
		Math.max(...positions.map(([lon = 0]) => lon)),
		Math.max(...positions.map(([, lat = 0]) => lat)),
	];
}

describe("item.json of an index job", () => {
	it("lists result.tif, preview.png and stats.json as served, on result.tif's grid, at the request's datetime", async () => {
		const { job, red, nir } = await redNirJob([red256, nir256], {
			index: "ndvi",
			datetime: "2026-05-04T12:20:31+02:00",
		});
		expect(job.artifacts.map((artifact) => artifact.name)).toContain("item.json");
		const item = await itemOf(job.id);
		expect(item).toMatchObject({ type: "Feature", stac_version: "1.1.0", id: job.id });
		expect(item.properties.datetime).toBe("2026-05-04T10:20:31.000Z");
		expect(Object.keys(item.assets).sort()).toEqual(["preview.png", "result.tif", "stats.json"]);
		expect(item.assets["result.tif"]).toMatchObject({
			roles: ["data"],
			type: "image/tiff; application=geotiff; profile=cloud-optimized",
		});
		expect(item.assets["preview.png"]).toMatchObject({ roles: ["overview"], type: "image/png" });
		expect(item.assets["stats.json"]).toMatchObject({ roles: ["metadata"], type: "application/json" });

		// The request's origin, as no PUBLIC_BASE_URL is set.
		const served = await expectAssetsServed(item, BASE);
		expect(item.links).toContainEqual({
			rel: "self",
			href: `${BASE}/v1/jobs/${job.id}/artifacts/item.json`,
			type: "application/geo+json",
		});
		const sources = item.links.filter((link) => link.rel === "derived_from").map((link) => link.href);
		expect(sources.sort()).toEqual([`${BASE}/v1/uploads/${red.id}`, `${BASE}/v1/uploads/${nir.id}`].sort());

		// The projection fields are result.tif's own grid.
		const image = await (await fromArrayBuffer(served.get("result.tif") as ArrayBuffer)).getImage();
		const [originX = 0, originY = 0] = image.getOrigin();
		const [pixelWidth = 0, pixelHeight = 0] = image.getResolution();
		const code = image.getGeoKeys()?.ProjectedCSTypeGeoKey as number;
		expect(item.properties["proj:code"]).toBe(`EPSG:${code}`);
		expect(item.properties["proj:shape"]).toEqual([image.getHeight(), image.getWidth()]);
		expect(item.properties["proj:transform"]).toEqual([pixelWidth, 0, originX, 0, pixelHeight, originY]);

		// The footprint is the grid's outline in longitude/latitude (proj4 here, on the corners).
		const utm = `+proj=utm +zone=${code % 100}${code >= 32700 ? " +south" : ""} +datum=WGS84 +units=m +no_defs`;
		const corners = [
			[originX, originY],
			[originX + image.getWidth() * pixelWidth, originY + image.getHeight() * pixelHeight],
		].map((corner) => proj4(utm, "EPSG:4326", corner));
		const ring = item.geometry?.coordinates[0] ?? [];
		expect(ring[0]).toEqual(ring.at(-1));
		for (const [lon = 0, lat = 0] of corners) {
			expect(ring.some(([x, y]) => Math.abs(x - lon) < 1e-8 && Math.abs(y - lat) < 1e-8)).toBe(true);
		}
		expect(item.bbox).toEqual(extentOf(ring));

		// The band: float32, NaN nodata, stats.json's statistics.
		const stats = JSON.parse(new TextDecoder().decode(served.get("stats.json"))) as Record<string, number>;
		expect(item.assets["result.tif"]?.bands).toEqual([
			{
				data_type: "float32",
				nodata: "nan",
				statistics: {
					minimum: stats.min,
					maximum: stats.max,
					mean: stats.mean,
					stddev: stats.std,
					valid_percent: (100 * (stats.count ?? 0)) / ((stats.count ?? 0) + (stats.nodata_count ?? 0)),
				},
			},
		]);
		expect(item.properties["processing:software"]).toEqual({ "eo-edge": expect.any(String) });
		expect(item.properties["processing:expression"]).toMatchObject({
			format: "eo-edge-formula",
			expression: { index: "NDVI", formula: "(nir - red)/(nir + red)" },
		});
	});

	it("takes its hrefs from PUBLIC_BASE_URL, its datetime from the job's creation, and scale from an integer output", async () => {
		const submit = (body: unknown) =>
			apiWith({ PUBLIC_BASE_URL: "https://eo.example.com/edge/" }, "/v1/jobs", {
				method: "POST",
				headers: { "content-type": "application/json" },
				body: JSON.stringify(body),
			});
		const output = { data_type: "int16", scale: 0.0001, offset: 0 };
		const { job, red } = await redNirJob([red256, nir256], { index: "ndvi", output }, submit);
		const item = await itemOf(job.id);
		expect(item.properties.datetime).toBe(new Date(job.created_at).toISOString());
		await expectAssetsServed(item, "https://eo.example.com/edge");
		const sources = item.links.filter((link) => link.rel === "derived_from").map((link) => link.href);
		expect(sources).toContain(`https://eo.example.com/edge/v1/uploads/${red.id}`);
		expect(item.assets["result.tif"]?.bands?.[0]).toMatchObject({
			data_type: "int16",
			nodata: -32768,
			"raster:scale": 0.0001,
			"raster:offset": 0,
		});
		expect(item.stac_extensions).toContain("https://stac-extensions.github.io/raster/v2.0.0/schema.json");
	});
});

describe("item.json of a zonal_statistics job", () => {
	it("lists the zone outputs and no result.tif, over the fields' hull, at the job's creation", async () => {
		const { job } = await redNirJob([red10, nir10], { process: "zonal_statistics", index: "ndvi", zones: fields });
		const item = await itemOf(job.id);
		expect(Object.keys(item.assets).sort()).toEqual(["zones.csv", "zones.geojson", "zones.parquet"]);
		expect(item.assets["zones.geojson"]).toMatchObject({ roles: ["data"], type: "application/geo+json" });
		expect(item.assets["zones.csv"]).toMatchObject({ roles: ["data"], type: "text/csv; charset=utf-8" });
		expect(item.assets["zones.parquet"]).toMatchObject({ roles: ["data"], type: "application/vnd.apache.parquet" });
		await expectAssetsServed(item, BASE);
		expect(item.properties.datetime).toBe(new Date(job.created_at).toISOString());
		expect(item.properties["proj:code"]).toBeUndefined();
		expect(item.stac_extensions.some((schema) => schema.includes("/projection/"))).toBe(false);

		// The hull of every field's positions: its bbox is theirs.
		const positions = fields.features.flatMap(({ geometry }) =>
			(geometry.type === "Polygon" ? [geometry.coordinates] : (geometry.coordinates as unknown[])).flat(2),
		) as number[][];
		expect(item.bbox).toEqual(extentOf(positions));
		expect(item.bbox).toEqual(extentOf(item.geometry?.coordinates[0] ?? []));
	});

	it("a time series spans its dates (datetime null) and links the field set it read", async () => {
		const created = await api("/v1/fields", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(fields),
		});
		const fieldSet = await json<{ id: string }>(created);
		const [r1, n1, r2, n2] = await Promise.all([redD1, nirD1, redD2, nirD2].map(upload));
		const job = await succeeded(
			await submitJob({
				process: "zonal_statistics",
				index: "ndvi",
				zones: { field_set_id: fieldSet.id },
				dates: [
					{ datetime: "2026-05-19T10:20:29Z", inputs: { red: { upload_id: r2?.id }, nir: { upload_id: n2?.id } } },
					{ datetime: "2026-05-04T12:20:31+02:00", inputs: { red: { upload_id: r1?.id }, nir: { upload_id: n1?.id } } },
				],
			}),
		);
		const item = await itemOf(job.id);
		expect(item.properties).toMatchObject({
			datetime: null,
			start_datetime: "2026-05-04T10:20:31.000Z",
			end_datetime: "2026-05-19T10:20:29.000Z",
		});
		const sources = item.links.filter((link) => link.rel === "derived_from").map((link) => link.href);
		expect(sources).toHaveLength(5);
		expect(sources).toContain(`${BASE}/v1/fields/${fieldSet.id}`);
		await expectAssetsServed(item, BASE);
	});

	it("refuses a job-level datetime on a time series", async () => {
		const [red, nir] = await Promise.all([upload(redD1), upload(nirD1)]);
		const response = await submitJob({
			process: "zonal_statistics",
			index: "ndvi",
			zones: fields,
			datetime: "2026-05-04T10:20:31Z",
			dates: [{ datetime: "2026-05-04T10:20:31Z", inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } } }],
		});
		const problem = await expectProblem(response, 422, "validation-failed");
		expect(problem.errors?.map((error) => error.path)).toContain("datetime");
	});
});
