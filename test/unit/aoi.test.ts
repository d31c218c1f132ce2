import proj4 from "proj4";
import { describe, expect, it } from "vitest";
import { type Aoi, AoiSchema, aoiCentreMask, aoiInCrs, aoiWindow, lonLatProjection } from "../../src/raster/aoi";
import type { GeoReference } from "../../src/raster/georeference";
import type { Grid } from "../../src/raster/grid";
import type { PixelWindow } from "../../src/raster/read";
import geometryCases from "../fixtures/geometry/cases.json";
import manifestT2 from "../fixtures/t2/manifest-t2.json";
import bboxNdvi from "../fixtures/t2/ndvi_aoi_bbox.f32";
import polygonNdvi from "../fixtures/t2/ndvi_aoi_polygon.f32";
import nirTif from "../fixtures/t2/nir_10m.tif";
import redTif from "../fixtures/t2/red_10m.tif";
import { seededRandom } from "../random";
import { openRaster, refusal } from "../rasters";

const masks = import.meta.glob<ArrayBuffer>("../fixtures/geometry/*.u8", { eager: true, import: "default" });

function crsOf(epsg: number): GeoReference {
	const geographic = epsg === 4326;
	return {
		modelPixelScale: null,
		modelTiepoint: null,
		modelTransformation: null,
		geoKeyDirectory: [1, 1, 0, 2, 1024, 0, 1, geographic ? 2 : 1, geographic ? 2048 : 3072, 0, 1, epsg],
		geoDoubleParams: null,
		geoAsciiParams: null,
	};
}

interface RasterSpec {
	epsg: number;
	origin: number[];
	resolution: number;
	width: number;
	height: number;
}

function gridOf({ epsg, origin: [x = 0, y = 0], resolution, width, height }: RasterSpec): Grid {
	return { geotransform: [x, resolution, 0, y, 0, -resolution], width, height, crs: crsOf(epsg) };
}

interface AoiCase {
	request: { aoi: unknown };
	expected: string;
	shape: [number, number];
	grid: { origin: [number, number]; resolution: number };
	edge_slack: number;
}

describe("manifest-t2's areas of interest on the 10 m rasters", () => {
	const cases = manifestT2.raster_cases as unknown as Record<string, AoiCase>;

	async function check(name: string, expectedBytes: ArrayBuffer): Promise<void> {
		const spec = cases[name];
		if (spec === undefined) throw new Error(`no case ${name}`);
		const red = await openRaster(redTif);
		const nir = await openRaster(nirTif);
		const aoi = AoiSchema.parse(spec.request.aoi);
		const { window, inRasterCrs } = aoiWindow(aoi, red.grid);
		const [originX, , , originY] = red.grid.geotransform;
		const expected: PixelWindow = {
			colStart: (spec.grid.origin[0] - originX) / spec.grid.resolution,
			rowStart: (originY - spec.grid.origin[1]) / spec.grid.resolution,
			colEnd: 0,
			rowEnd: 0,
		};
		expected.rowEnd = expected.rowStart + spec.shape[0];
		expected.colEnd = expected.colStart + spec.shape[1];
		for (const side of ["rowStart", "rowEnd", "colStart", "colEnd"] as const) {
			expect(Math.abs(window[side] - expected[side]), side).toBeLessThanOrEqual(spec.edge_slack);
		}

		// NDVI over the window, NaN where nodata or outside the polygon, equals the expected array
		// on the pixels both windows hold.
		const mask = aoiCentreMask(inRasterCrs, red.grid, window);
		const redSamples = await red.read(window);
		const nirSamples = await nir.read(window);
		const expectedNdvi = new Float32Array(expectedBytes);
		const width = window.colEnd - window.colStart;
		let compared = 0;
		for (
			let row = Math.max(window.rowStart, expected.rowStart);
			row < Math.min(window.rowEnd, expected.rowEnd);
			row++
		) {
			for (
				let col = Math.max(window.colStart, expected.colStart);
				col < Math.min(window.colEnd, expected.colEnd);
				col++
			) {
				const here = (row - window.rowStart) * width + col - window.colStart;
				const r = redSamples[here] ?? 0;
				const n = nirSamples[here] ?? 0;
				const kept = mask === null || mask[here] === 1;
				const ndvi = kept && r !== 0 && n !== 0 ? Math.fround(Math.fround(n - r) / Math.fround(n + r)) : Number.NaN;
				const want = expectedNdvi[(row - expected.rowStart) * spec.shape[1] + col - expected.colStart] ?? Number.NaN;
				if (Number.isNaN(want) || Number.isNaN(ndvi)) {
					expect(Number.isNaN(ndvi), `pixel ${row}, ${col}`).toBe(Number.isNaN(want));
				} else {
					expect(Math.abs(ndvi - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
				}
				compared++;
			}
		}
		expect(compared).toBeGreaterThan(0.9 * spec.shape[0] * spec.shape[1]);
	}

	it("bbox: the window of its densified extent, every pixel kept", () => check("ndvi_aoi_bbox", bboxNdvi));
	it("polygon: the window of its extent, pixels whose centre is inside", () => check("ndvi_aoi_polygon", polygonNdvi));

	it("an area that does not overlap the raster is refused naming aoi", async () => {
		const red = await openRaster(redTif);
		const error = refusal(() =>
			aoiWindow(AoiSchema.parse(manifestT2.raster_cases.ndvi_aoi_outside.request.aoi), red.grid),
		);
		expect(error.code).toBe("aoi-outside-raster");
		expect(error.status).toBe(422);
		expect(error.errors).toEqual([{ path: "aoi", message: "does not overlap the raster" }]);
		expect(error.message).toMatch(/EPSG:32633/);
	});
});

describe("areas of interest in other CRSs, as PROJ and GDAL's rasterizer have them (test/fixtures/geometry)", () => {
	for (const [name, spec] of Object.entries(geometryCases.aoi)) {
		it(name, () => {
			const grid = gridOf(spec.raster);
			const { window, inRasterCrs } = aoiWindow(AoiSchema.parse(spec.aoi), grid);
			expect(window).toEqual(spec.window);
			const mask = aoiCentreMask(inRasterCrs, grid, window);
			if (!("mask" in spec)) {
				expect(mask).toBeNull();
				return;
			}
			const expected = masks[`../fixtures/geometry/${spec.mask}`];
			if (expected === undefined) throw new Error(`no mask ${spec.mask}`);
			expect(mask).toEqual(new Uint8Array(expected));
		});
	}

	it("refuses a CRS it cannot name to proj4, naming aoi and the CRS", () => {
		const grid = gridOf({ epsg: 3031, origin: [650000, 6860000], resolution: 10, width: 100, height: 100 });
		const error = refusal(() => aoiWindow({ bbox: [2.3, 48.8, 2.4, 48.9] }, grid));
		expect(error.status).toBe(422);
		expect(error.message).toMatch(/EPSG:3031/);
		expect(error.errors?.[0]?.path).toBe("aoi");
		const userDefined = { ...grid, crs: { ...grid.crs, geoKeyDirectory: [1, 1, 0, 1, 1024, 0, 1, 1] } };
		expect(refusal(() => aoiWindow({ bbox: [2.3, 48.8, 2.4, 48.9] }, userDefined)).message).toMatch(/user-defined/);
	});

	it("masks a 1024 x 1024 window of a 2000-vertex polygon with a hole quickly", () => {
		const grid = gridOf({ epsg: 32633, origin: [600000, 5300040], resolution: 10, width: 1100, height: 1100 });
		const circle = (radius: number, count: number): [number, number][] => {
			const ring = Array.from({ length: count }, (_, k): [number, number] => [
				16.4 + radius * 1.5 * Math.cos((2 * Math.PI * k) / count),
				47.8 + radius * Math.sin((2 * Math.PI * k) / count),
			]);
			return [...ring, ring[0] ?? [0, 0]];
		};
		const aoi: Aoi = { type: "Polygon", coordinates: [circle(0.04, 2000), circle(0.01, 200)] };
		const inRasterCrs = aoiInCrs(aoi, grid.crs);
		const window = { rowStart: 0, rowEnd: 1024, colStart: 0, colEnd: 1024 };
		const started = performance.now();
		const mask = aoiCentreMask(inRasterCrs, grid, window);
		const elapsed = performance.now() - started;
		expect(mask?.reduce((sum, keep) => sum + keep, 0)).toBeGreaterThan(0);
		expect(elapsed).toBeLessThan(1000);
	});
});

describe("AoiSchema", () => {
	function messages(value: unknown): string[] {
		const result = AoiSchema.safeParse(value);
		return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
	}
	const square = [
		[16.3, 47.8],
		[16.4, 47.8],
		[16.4, 47.9],
		[16.3, 47.8],
	];

	it("accepts Polygons, MultiPolygons and bboxes", () => {
		expect(messages({ type: "Polygon", coordinates: [square] })).toEqual([]);
		expect(messages({ type: "MultiPolygon", coordinates: [[square], [square]] })).toEqual([]);
		expect(messages({ bbox: [16.3, 47.8, 16.4, 47.9] })).toEqual([]);
	});

	it("says what is wrong", () => {
		expect(messages({ type: "Polygon", coordinates: [[square[0], square[1], square[0]]] })).toEqual([
			"coordinates.0: a linear ring needs at least 4 positions",
		]);
		expect(messages({ type: "Polygon", coordinates: [[...square.slice(0, 3), [16.35, 47.85]]] })).toEqual([
			"coordinates.0: a linear ring must end at its first position (closed)",
		]);
		expect(messages({ type: "Polygon", coordinates: [[[200, 47.8], ...square.slice(1, 3), [200, 47.8]]] })).toContain(
			"coordinates.0.0.0: longitude must be between -180 and 180",
		);
		expect(messages({ bbox: [16.4, 47.8, 16.3, 47.9] })).toEqual([
			"bbox.0: west must be less than east (a bbox across the antimeridian is not supported: send a MultiPolygon)",
		]);
		expect(messages({ bbox: [16.3, 47.9, 16.4, 47.8] })).toEqual(["bbox.1: south must be less than north"]);
		expect(messages({ bbox: [16.3, 97.9, 16.4, 98] })).toContain("bbox.1: latitude must be between -90 and 90");
		expect(messages({ bbox: [16.3, 47.9, 16.4] })).toEqual(["bbox: bbox must be [west, south, east, north]"]);
		expect(messages({ type: "Point", coordinates: [16.3, 47.8] })).toEqual([
			': must be a GeoJSON Polygon or MultiPolygon in longitude/latitude, or { "bbox": [west, south, east, north] }',
		]);
	});
});

describe("national and continental grids", () => {
	// Longitude, latitude and where GDAL 3.6 (osr, PROJ) puts them in each CRS.
	const gdal: [number, number, number, number, number][] = [
		[3035, 10.5, 52.3, 4355108.989280484, 3243498.0277237277],
		[2154, 2.35, 48.85, 652301.5648305281, 6861302.725899576],
		[27700, -1.5, 52.5, 434039.4572860588, 289239.2810926733],
		[5070, -96.5, 40.2, -42193.22428349257, 1909496.746585851],
		[3577, 133.2, -25.1, 119648.87950054748, -2714338.6772607816],
		[2193, 174.8, -41.3, 1750697.5213341913, 5426376.623168275],
		[28355, 147.0, -35.0, 500000.0000000023, 6126956.935571456],
		[7855, 147.0, -35.0, 500000.0000000023, 6126956.935571456],
	];
	it.each(gdal)("EPSG:%i places a point where GDAL does, within a centimetre", (epsg, lon, lat, x, y) => {
		const { extent } = aoiInCrs(
			{
				type: "Polygon",
				coordinates: [
					[
						[lon, lat],
						[lon, lat],
						[lon, lat],
						[lon, lat],
					],
				],
			},
			crsOf(epsg),
		);
		expect(Math.abs(extent[0] - x)).toBeLessThan(0.01);
		expect(Math.abs(extent[1] - y)).toBeLessThan(0.01);
	});
});

describe("WGS 84 / UTM, projected without proj4's generic transform", () => {
	it("places every point where proj4's converter does, to the bit, in every zone", () => {
		const random = seededRandom(14);
		for (const [first, south] of [
			[32601, false],
			[32701, true],
		] as const) {
			for (let zone = 1; zone <= 60; zone++) {
				const converter = proj4(
					"EPSG:4326",
					`+proj=utm +zone=${zone}${south ? " +south" : ""} +datum=WGS84 +units=m +no_defs`,
				);
				const project = lonLatProjection(crsOf(first + zone - 1));
				const centralMeridian = -183 + 6 * zone;
				for (let k = 0; k < 50; k++) {
					// Within the zone and well beyond it, as a field set's vertices may lie.
					const lon = Math.max(-180, Math.min(180, centralMeridian + (random() - 0.5) * 30));
					const lat = (south ? -1 : 1) * random() * 84;
					const [x, y] = converter.forward([lon, lat]);
					const projected = project(lon, lat);
					expect([projected.x, projected.y]).toEqual([x, y]);
				}
			}
		}
	});
});
