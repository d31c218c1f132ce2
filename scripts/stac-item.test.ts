/**
 * Items as src/stac/item.ts builds them, from inputs shaped like an index job's and a zonal
 * job's, validated by stac-node-validator against the schemas in test/fixtures/stac-schemas
 * (offline). The workerd tests (test/integration/stac-item.test.ts) check what the jobs publish;
 * the validator needs Node, so it runs here, and on published Items in npm run test:e2e.
 */
import { describe, expect, it } from "vitest";
import type { JobRequest } from "../src/db/jobs";
import { gridFootprint } from "../src/raster/footprint";
import type { GeoReference } from "../src/raster/georeference";
import {
	buildItem,
	hullFootprint,
	type ItemParts,
	inputSources,
	publicBaseUrl,
	type ResultItem,
	seriesTime,
	singleDateTime,
} from "../src/stac/item";
import { validateStacItem } from "./stac-validate";

const BASE = "https://eo.example.com";
const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/** EPSG:32633 (WGS 84 / UTM 33N) as GDAL writes its GeoKeys; the grid's place is given apart. */
const UTM_33N: GeoReference = Object.assign(
	{
		modelPixelScale: null,
		modelTiepoint: null,
		modelTransformation: null,
		geoDoubleParams: null,
		geoAsciiParams: null,
	},
	{ geoKeyDirectory: [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633] },
);

const INPUTS: JobRequest["inputs"] = {
	red: { upload_id: "upl_0123456789abcdef01234567", band: 3, scale: 0.0001, offset: -0.1 },
	nir: { upload_id: "upl_0123456789abcdef01234567", band: 4, scale: 0.0001, offset: -0.1 },
};

const EXPRESSION = {
	index: "NDVI",
	formula: "(nir - red)/(nir + red)",
	constants: {},
	inputs: { red: { band: 3, scale: 0.0001, offset: -0.1 }, nir: { band: 4, scale: 0.0001, offset: -0.1 } },
};

function indexResult(overrides: Partial<ResultItem> = {}): ResultItem {
	const geotransform = [600000, 10, 0, 5300000, 0, -10] as [number, number, number, number, number, number];
	return {
		footprint: gridFootprint({ geotransform, width: 1024, height: 512, crs: UTM_33N }),
		time: singleDateTime({ request: { inputs: INPUTS, datetime: "2026-05-04T12:20:31+02:00" }, createdAt: "" }),
		grid: { epsg: 32633, width: 1024, height: 512, geotransform },
		assets: {
			"result.tif": {
				roles: ["data"],
				type: "image/tiff; application=geotiff; profile=cloud-optimized",
				title: "The index, per pixel",
				bands: [
					{
						data_type: "float32",
						nodata: "nan",
						statistics: { minimum: -0.2, maximum: 0.9, mean: 0.4, stddev: 0.2, valid_percent: 97.5 },
					},
				],
			},
			"preview.png": { roles: ["overview"], type: "image/png", title: "Colour preview" },
			"stats.json": { roles: ["metadata"], type: "application/json", title: "Statistics and histogram" },
		},
		expression: EXPRESSION,
		lineage: "NDVI (Awesome Spectral Indices) (nir - red)/(nir + red), evaluated per pixel, by EO Edge",
		...overrides,
	};
}

function parts(result: ResultItem, inputs: JobRequest["inputs"] = INPUTS): ItemParts {
	const files = Object.fromEntries(Object.keys(result.assets).map((name) => [name, { size: 1234, sha256: SHA }]));
	return {
		jobId: "job_0123456789abcdef01234567",
		baseUrl: BASE,
		result,
		files,
		inputs,
		softwareVersion: "1.1.0",
		processedAt: "2026-12-04T13:00:00.000Z",
	};
}

async function expectValid(item: unknown): Promise<void> {
	const validation = await validateStacItem(item);
	expect(validation.errors).toEqual([]);
	expect(validation.valid).toBe(true);
}

describe("STAC Items of results, validated by stac-node-validator", () => {
	it("an index job's Item (UTM grid, float32 COG) is valid", async () => {
		const item = buildItem(parts(indexResult()));
		expect(item.properties["proj:code"]).toBe("EPSG:32633");
		expect(item.properties["proj:transform"]).toEqual([10, 0, 600000, 0, -10, 5300000]);
		expect(item.properties.datetime).toBe("2026-05-04T10:20:31.000Z");
		expect(item.assets["result.tif"]?.["file:checksum"]).toBe(`1220${SHA}`);
		// One link for the upload both inputs read.
		expect(item.links.filter((link) => link.rel === "derived_from")).toHaveLength(1);
		await expectValid(item);
	});

	it("an integer result with scale and offset (raster extension) is valid", async () => {
		const result = indexResult();
		const tif = result.assets["result.tif"];
		if (!tif) throw new Error("no result.tif");
		tif.bands = [{ data_type: "int16", nodata: -32768, scale: 0.0001, offset: 0, statistics: { valid_percent: 0 } }];
		await expectValid(buildItem(parts(result)));
	});

	it("a result in a CRS without an EPSG code, which cannot be placed, is valid (geometry null, proj:code null)", async () => {
		const item = buildItem(
			parts(indexResult({ footprint: null, grid: { epsg: null, width: 10, height: 10, geotransform: null } })),
		);
		expect(item.geometry).toBeNull();
		expect(item.bbox).toBeUndefined();
		expect(item.properties["proj:code"]).toBeNull();
		await expectValid(item);
	});

	it("a zonal time series' Item (zone outputs, fields' hull, start and end) is valid", async () => {
		const footprint = hullFootprint([
			[16.34, 47.83],
			[16.37, 47.83],
			[16.355, 47.835],
			[16.37, 47.84],
			[16.34, 47.84],
		]);
		expect(footprint?.coordinates[0]).toHaveLength(5);
		const result: ResultItem = {
			footprint,
			time: seriesTime(["2026-05-19T10:20:29Z", "2026-05-04T10:20:31Z", "2026-06-08T10:20:31Z"]),
			assets: {
				"zones.geojson": { roles: ["data"], type: "application/geo+json", title: "The fields" },
				"zones.csv": { roles: ["data"], type: "text/csv; charset=utf-8", title: "Statistics per field and date" },
				"zones.parquet": { roles: ["data"], type: "application/vnd.apache.parquet", title: "GeoParquet" },
			},
			expression: EXPRESSION,
			lineage: "NDVI, weighed per field",
			sources: [{ rel: "derived_from", href: `${BASE}/v1/fields/fld_0123456789abcdef01234567` }],
		};
		const item = buildItem(parts(result));
		expect(item.properties).toMatchObject({
			datetime: null,
			start_datetime: "2026-05-04T10:20:31.000Z",
			end_datetime: "2026-06-08T10:20:31.000Z",
		});
		expect(item.stac_extensions.some((schema) => schema.includes("projection"))).toBe(false);
		await expectValid(item);
	});

	it("links an input's STAC Item instead of its file, once per Item, and a remote COG by its href", () => {
		const item = "https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20260504_0_L2A";
		const links = inputSources(
			{
				red: { href: "https://example.com/B04.tif", band: 1, scale: 1, offset: 0, stac: { item, asset: "red" } },
				nir: { href: "https://example.com/B08.tif", band: 1, scale: 1, offset: 0, stac: { item, asset: "nir" } },
				swir16: { href: "https://example.com/B11.tif", band: 1, scale: 1, offset: 0 },
			},
			BASE,
		);
		expect(links.map((link) => link.href)).toEqual([item, "https://example.com/B11.tif"]);
	});

	it("takes the hrefs' base from PUBLIC_BASE_URL (path kept, trailing slash dropped), else the request's origin", () => {
		expect(publicBaseUrl("", "http://localhost:8787/v1/jobs")).toBe("http://localhost:8787");
		expect(publicBaseUrl(" https://eo.example.com/ ", "http://localhost/v1/jobs")).toBe("https://eo.example.com");
		expect(publicBaseUrl("https://example.com/eo-edge/", "http://localhost/v1/jobs")).toBe(
			"https://example.com/eo-edge",
		);
		expect(() => publicBaseUrl("eo.example.com", "http://localhost/v1/jobs")).toThrow(/PUBLIC_BASE_URL/);
		expect(() => publicBaseUrl("ftp://eo.example.com", "http://localhost/v1/jobs")).toThrow(/PUBLIC_BASE_URL/);
	});

	it("the validator rejects invalid Items: a datetime not in UTC, a checksum not hex, a missing STAC version", async () => {
		const item = buildItem(parts(indexResult()));
		const local = { ...item, properties: { ...item.properties, datetime: "2026-05-04T12:20:31+02:00" } };
		const notUtc = await validateStacItem(local);
		expect(notUtc.valid).toBe(false);
		expect(notUtc.errors.join("\n")).toContain("/properties/datetime");

		const badChecksum = structuredClone(item);
		(badChecksum.assets["stats.json"] as Record<string, unknown>)["file:checksum"] = "sha256:not-hex";
		const rejected = await validateStacItem(badChecksum);
		expect(rejected.valid).toBe(false);
		expect(rejected.errors.join("\n")).toContain("file/v2.1.0");

		const { stac_version: _, ...unversioned } = item;
		expect((await validateStacItem(unversioned)).valid).toBe(false);
	});
});
