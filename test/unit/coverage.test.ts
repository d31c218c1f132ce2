import { describe, expect, it } from "vitest";
import { WeightedStatistics } from "../../src/processes/zonal/weighted-statistics";
import type { Point } from "../../src/raster/aoi";
import {
	type CoverageRule,
	CoverageScratch,
	type FeatureGeometry,
	type PixelCoverage,
	pixelCoverage,
	polygonsInPixels,
} from "../../src/raster/coverage";
import type { PixelWindow } from "../../src/raster/read";
import fieldsGeojson from "../fixtures/t2/fields.geojson?raw";
import manifestT2 from "../fixtures/t2/manifest-t2.json";
import nirTif from "../fixtures/t2/nir_10m.tif";
import redTif from "../fixtures/t2/red_10m.tif";
import { seededRandom } from "../random";
import { openRaster, wholeWindow } from "../rasters";

const WINDOW: PixelWindow = { rowStart: 0, rowEnd: 64, colStart: 0, colEnd: 64 };

/** The weight of pixel (row, col), 0 outside the coverage's block. */
function weightAt(coverage: PixelCoverage | null, row: number, col: number): number {
	if (coverage === null) return 0;
	const r = row - coverage.rowStart;
	const c = col - coverage.colStart;
	if (r < 0 || c < 0 || r >= coverage.height || c >= coverage.width) return 0;
	return coverage.weights[r * coverage.width + c] ?? 0;
}

function total(coverage: PixelCoverage | null): number {
	return coverage === null ? 0 : coverage.weights.reduce((sum, weight) => sum + weight, 0);
}

function shoelace(ring: readonly Point[]): number {
	let sum = 0;
	for (let i = 0; i < ring.length; i++) {
		const [xa, ya] = ring[i] ?? [0, 0];
		const [xb, yb] = ring[(i + 1) % ring.length] ?? [0, 0];
		sum += xa * yb - xb * ya;
	}
	return Math.abs(sum) / 2;
}

/** A star-shaped ring around (cx, cy), not closed, counter-clockwise on screen unless reversed. */
function starRing(random: () => number, cx: number, cy: number, radius: number, vertices: number): Point[] {
	return Array.from({ length: vertices }, (_, k): Point => {
		const angle = (2 * Math.PI * (k + 0.4 * random())) / vertices;
		const r = radius * (0.5 + 0.5 * random());
		return [cx + r * Math.cos(angle), cy + r * Math.sin(angle)];
	});
}

/** Rows of '#' (weight 1) and '.' (0) over an 8 x 8 window, for comparing with GDAL's rasterizations. */
function picture(polygons: Point[][][], rule: CoverageRule): string[] {
	const coverage = pixelCoverage(polygons, rule, { rowStart: 0, rowEnd: 8, colStart: 0, colEnd: 8 });
	return Array.from({ length: 8 }, (_, row) =>
		Array.from({ length: 8 }, (_, col) => (weightAt(coverage, row, col) === 1 ? "#" : ".")).join(""),
	);
}

describe("fraction coverage", () => {
	it("sums to the polygon's area for polygons inside the window, any orientation, closed or not", () => {
		const random = seededRandom(14);
		for (let trial = 0; trial < 200; trial++) {
			const ring = starRing(random, 32, 32, 1 + 25 * random(), 3 + Math.floor(60 * random()));
			const area = shoelace(ring);
			const closed = [...ring, ring[0] ?? [0, 0]];
			for (const variant of [ring, closed, [...closed].reverse()]) {
				const coverage = pixelCoverage([[variant]], "fraction", WINDOW);
				expect(Math.abs(total(coverage) - area)).toBeLessThanOrEqual(1e-11 * area);
				expect(coverage?.weights.every((weight) => weight >= 0 && weight <= 1)).toBe(true);
			}
		}
	});

	it("gives two polygons sharing an edge weights that sum to 1 on every pixel along it", () => {
		const random = seededRandom(7);
		for (let trial = 0; trial < 50; trial++) {
			// A 20 x 20 square at a fractional offset, cut by a random polyline from its left side to its right.
			const x0 = 10 + random();
			const y0 = 10 + random();
			const cut: Point[] = [[x0, y0 + 20 * random()]];
			for (let k = 1; k < 5; k++) cut.push([x0 + 5 * k, y0 + 20 * random()]);
			const upper: Point[] = [[x0, y0], [x0 + 20, y0], ...[...cut].reverse()];
			const lower: Point[] = [...cut, [x0 + 20, y0 + 20], [x0, y0 + 20]];
			const a = pixelCoverage([[upper]], "fraction", WINDOW);
			const b = pixelCoverage([[lower]], "fraction", WINDOW);
			for (let row = 11; row < 30; row++) {
				for (let col = 11; col < 30; col++) {
					expect(Math.abs(weightAt(a, row, col) + weightAt(b, row, col) - 1)).toBeLessThanOrEqual(1e-12);
				}
			}
		}
	});

	it("subtracts holes in either orientation, and adds a MultiPolygon's polygons", () => {
		const random = seededRandom(3);
		for (let trial = 0; trial < 50; trial++) {
			const shell = starRing(random, 20.3, 20.6, 15, 40);
			// Inside the shell: the shell's radius is at least 7.5.
			const hole = starRing(random, 20.3 + random(), 20.6 - random(), 5, 12);
			const other = starRing(random, 50, 48, 10, 20);
			const withHole = pixelCoverage([[shell, [...hole].reverse()]], "fraction", WINDOW);
			const sameHoleOrientation = pixelCoverage([[shell, hole]], "fraction", WINDOW);
			const multi = pixelCoverage([[shell, hole], [other]], "fraction", WINDOW);
			const shellAlone = pixelCoverage([[shell]], "fraction", WINDOW);
			const holeAlone = pixelCoverage([[hole]], "fraction", WINDOW);
			const otherAlone = pixelCoverage([[other]], "fraction", WINDOW);
			let worst = 0;
			for (let row = 0; row < 64; row++) {
				for (let col = 0; col < 64; col++) {
					const expected = weightAt(shellAlone, row, col) - weightAt(holeAlone, row, col);
					worst = Math.max(
						worst,
						Math.abs(weightAt(withHole, row, col) - expected),
						Math.abs(weightAt(sameHoleOrientation, row, col) - expected),
						Math.abs(weightAt(multi, row, col) - expected - weightAt(otherAlone, row, col)),
					);
				}
			}
			expect(worst).toBeLessThanOrEqual(1e-13);
		}
	});

	it("gives a polygon inside one pixel, not around its centre, its area there and nothing elsewhere", () => {
		const triangle: Point[] = [
			[5.1, 7.1],
			[5.45, 7.2],
			[5.2, 7.6],
		];
		const coverage = pixelCoverage([[triangle]], "fraction", WINDOW);
		expect(coverage).toMatchObject({ rowStart: 7, colStart: 5, width: 1, height: 1 });
		expect(coverage?.weights[0]).toBeCloseTo(0.0825, 15);
		expect(pixelCoverage([[triangle]], "center", WINDOW)).toBeNull();
		expect(pixelCoverage([[triangle]], "all_touched", WINDOW)?.weights).toEqual(new Float64Array([1]));
	});

	it("gives the pixels of a window what it gives them in a larger one", () => {
		const random = seededRandom(11);
		const whole: PixelWindow = { rowStart: -50, rowEnd: 120, colStart: -50, colEnd: 120 };
		for (let trial = 0; trial < 12; trial++) {
			const polygons = [[starRing(random, 64 * random(), 64 * random(), 5 + 40 * random(), 30)]];
			for (const rule of ["fraction", "all_touched", "center"] as const) {
				const everywhere = pixelCoverage(polygons, rule, whole);
				for (const window of [WINDOW, { rowStart: 13, rowEnd: 40, colStart: 21, colEnd: 33 }]) {
					const part = pixelCoverage(polygons, rule, window);
					for (let row = window.rowStart; row < window.rowEnd; row++) {
						for (let col = window.colStart; col < window.colEnd; col++) {
							expect(Math.abs(weightAt(part, row, col) - weightAt(everywhere, row, col))).toBeLessThanOrEqual(1e-12);
						}
					}
				}
			}
		}
	});

	it("is null when the feature misses the window", () => {
		const square: Point[] = [
			[70, 70],
			[80, 70],
			[80, 80],
			[70, 80],
		];
		expect(pixelCoverage([[square]], "fraction", WINDOW)).toBeNull();
		// Inside the window's bbox, but the square's pixels are all in its hole.
		const hollow = [
			[
				square.map(([x, y]): Point => [x - 20, y - 20]),
				[
					[51, 51],
					[59, 51],
					[59, 59],
					[51, 59],
				],
			],
		] as Point[][][];
		expect(pixelCoverage(hollow, "center", { rowStart: 51, rowEnd: 59, colStart: 51, colEnd: 59 })).toBeNull();
	});
});

/**
 * Small cases rasterized by GDAL 3.6.2 (gdal.RasterizeLayer on an 8 x 8 north-up grid, geotransform
 * [0, 1, 0, 8, 0, -1], each vertex [column, row] given as (column, 8 - row)): its default rule, and
 * with ALL_TOUCHED. Edges run on pixel borders, through corners, and centres lie on edges and
 * vertices. GDAL gives the same pixels for either ring orientation.
 */
const GDAL_CASES: Record<
	string,
	{ polygon: Point[][]; center: string[]; allTouched: string[]; gdalAllTouched?: string[] }
> = {
	"square on pixel borders": {
		polygon: [
			[
				[2, 2],
				[5, 2],
				[5, 5],
				[2, 5],
				[2, 2],
			],
		],
		center: ["........", "........", "..###...", "..###...", "..###...", "........", "........", "........"],
		allTouched: ["........", "........", "..###...", "..###...", "..###...", "........", "........", "........"],
	},
	"square through pixel centres": {
		polygon: [
			[
				[1.5, 1.5],
				[4.5, 1.5],
				[4.5, 4.5],
				[1.5, 4.5],
				[1.5, 1.5],
			],
		],
		// A centre on the bottom edge is inside: GDAL fills a ring's bottom horizontal edges apart.
		center: ["........", "..###...", "..###...", "..###...", "..###...", "........", "........", "........"],
		allTouched: ["........", ".####...", ".####...", ".####...", ".####...", "........", "........", "........"],
	},
	"diamond with vertices on pixel corners": {
		polygon: [
			[
				[4, 1],
				[7, 4],
				[4, 7],
				[1, 4],
				[4, 1],
			],
		],
		center: ["........", "....#...", "...###..", "..#####.", "..#####.", "...###..", "....#...", "........"],
		allTouched: ["........", "...##...", "..####..", ".######.", ".######.", "..####..", "...##...", "........"],
		// GDAL's line walk also burns pixels met only at a corner below and right of an edge.
		gdalAllTouched: ["........", "...##...", "..####..", ".######.", ".######.", "..#####.", "...###..", "....#..."],
	},
	"diamond with vertices on pixel centres": {
		polygon: [
			[
				[3.5, 0.5],
				[6.5, 3.5],
				[3.5, 6.5],
				[0.5, 3.5],
				[3.5, 0.5],
			],
		],
		center: ["........", "...##...", "..####..", ".######.", "..####..", "...##...", "........", "........"],
		allTouched: ["...#....", "..###...", ".#####..", "#######.", ".#####..", "..###...", "...#....", "........"],
		gdalAllTouched: ["...#....", "..###...", ".#####..", "#######.", ".######.", "..####..", "...##...", "........"],
	},
	"triangle with its hypotenuse through corners": {
		polygon: [
			[
				[1, 1],
				[6, 1],
				[1, 6],
				[1, 1],
			],
		],
		center: ["........", ".#####..", ".####...", ".###....", ".##.....", ".#......", "........", "........"],
		allTouched: ["........", ".#####..", ".####...", ".###....", ".##.....", ".#......", "........", "........"],
		gdalAllTouched: ["........", ".#####..", ".#####..", ".####...", ".###....", ".##.....", ".#......", "........"],
	},
	"hole on pixel borders": {
		polygon: [
			[
				[1, 1],
				[7, 1],
				[7, 7],
				[1, 7],
				[1, 1],
			],
			[
				[3, 3],
				[5, 3],
				[5, 5],
				[3, 5],
				[3, 3],
			],
		],
		center: ["........", ".######.", ".######.", ".##..##.", ".##..##.", ".######.", ".######.", "........"],
		allTouched: ["........", ".######.", ".######.", ".##..##.", ".##..##.", ".######.", ".######.", "........"],
	},
	"top edge on a row of centres, bottom edge on a pixel border": {
		polygon: [
			[
				[1, 2.5],
				[6, 2.5],
				[6, 4],
				[1, 4],
				[1, 2.5],
			],
		],
		center: ["........", "........", ".#####..", ".#####..", "........", "........", "........", "........"],
		allTouched: ["........", "........", ".#####..", ".#####..", "........", "........", "........", "........"],
		// GDAL burns one pixel past a horizontal edge that ends on a pixel border.
		gdalAllTouched: ["........", "........", ".######.", ".#####..", "........", "........", "........", "........"],
	},
	"a strip thinner than a pixel, between no centres": {
		polygon: [
			[
				[1, 3],
				[6, 3],
				[6, 3.2],
				[1, 3.2],
				[1, 3],
			],
		],
		center: ["........", "........", "........", "........", "........", "........", "........", "........"],
		allTouched: ["........", "........", "........", ".#####..", "........", "........", "........", "........"],
		gdalAllTouched: ["........", "........", "........", ".######.", "........", "........", "........", "........"],
	},
	"an L whose edges run through centres": {
		polygon: [
			[
				[1.5, 1.5],
				[6.5, 1.5],
				[6.5, 3.5],
				[3.5, 3.5],
				[3.5, 6.5],
				[1.5, 6.5],
				[1.5, 1.5],
			],
		],
		center: ["........", "..#####.", "..#####.", "..#####.", "..##....", "..##....", "..##....", "........"],
		allTouched: ["........", ".######.", ".######.", ".######.", ".###....", ".###....", ".###....", "........"],
	},
	"a hole whose edges run through centres": {
		polygon: [
			[
				[0.5, 0.5],
				[7.5, 0.5],
				[7.5, 7.5],
				[0.5, 7.5],
				[0.5, 0.5],
			],
			[
				[2.5, 2.5],
				[5.5, 2.5],
				[5.5, 5.5],
				[2.5, 5.5],
				[2.5, 2.5],
			],
		],
		// A centre on the hole's top edge is in the hole; on its bottom edge, in the polygon.
		center: [".#######", ".#######", ".##...##", ".##...##", ".##...##", ".#######", ".#######", ".#######"],
		allTouched: ["########", "########", "########", "###..###", "###..###", "########", "########", "########"],
	},
};

describe("coverage scratch", () => {
	it("gives zeroed deposits of the size asked, and lets a large field's go when released", () => {
		const scratch = new CoverageScratch();
		const large = scratch.take(200_000);
		large.cells.fill(0.5);
		large.marks.fill(1);
		expect(scratch.take(10).cells.buffer.byteLength).toBe(200_000 * 8);
		scratch.release();
		const small = scratch.take(10);
		expect(small.cells.buffer.byteLength).toBe(10 * 8);
		expect([...small.cells, ...small.marks].every((value) => value === 0)).toBe(true);
		scratch.release();
		expect(scratch.take(10).cells.buffer).toBe(small.cells.buffer);
	});
});

describe("center and all_touched against GDAL's rasterizer", () => {
	for (const [name, spec] of Object.entries(GDAL_CASES)) {
		it(name, () => {
			for (const polygon of [spec.polygon, spec.polygon.map((ring) => [...ring].reverse())]) {
				expect(picture([polygon], "center")).toEqual(spec.center);
				expect(picture([polygon], "all_touched")).toEqual(spec.allTouched);
			}
			// Where GDAL differs, it burns more: every pixel it leaves out is left out here too.
			for (const [row, line] of (spec.gdalAllTouched ?? spec.allTouched).entries()) {
				for (const [col, mark] of [...(spec.allTouched[row] ?? "")].entries()) {
					if (mark === "#") expect(line[col], `${row}, ${col}`).toBe("#");
				}
			}
		});
	}
});

interface ExpectedStatistics {
	count: number;
	nodata_count: number;
	masked_count: number;
	valid_fraction: number | null;
	mean: number | null;
	std: number | null;
	min: number | null;
	max: number | null;
	sum: number | null;
	percentiles: Record<string, number | null>;
}

interface Feature {
	id: string;
	geometry: FeatureGeometry;
}

function expectClose(actual: number | null, expected: number | null, what: string): void {
	if (expected === null) {
		expect(actual, what).toBeNull();
		return;
	}
	expect(actual, what).not.toBeNull();
	const difference = Math.abs((actual ?? 0) - expected);
	expect(difference, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
		Math.max(1e-6 * Math.abs(expected), 1e-9),
	);
}

describe("manifest-t2's zonal statistics of NDVI over fields.geojson (Shapely and pyproj)", async () => {
	const red = await openRaster(redTif);
	const nir = await openRaster(nirTif);
	const window = wholeWindow(red.grid);
	const redSamples = await red.read(window);
	const nirSamples = await nir.read(window);
	// NDVI in float32, NaN where an input is nodata or the formula has no value.
	const ndvi = new Float32Array(redSamples.length);
	for (let i = 0; i < ndvi.length; i++) {
		const r = Math.fround(redSamples[i] ?? 0);
		const n = Math.fround(nirSamples[i] ?? 0);
		ndvi[i] = r === red.nodata || n === nir.nodata ? Number.NaN : Math.fround(Math.fround(n - r) / Math.fround(n + r));
	}
	const features = (JSON.parse(fieldsGeojson) as { features: Feature[] }).features;

	/** The feature's statistics accumulated over `windows` of the raster, each partial sent as bytes and merged. */
	function statisticsOf(feature: Feature, rule: CoverageRule, windows: PixelWindow[]): ExpectedStatistics {
		const polygons = polygonsInPixels(feature.geometry, red.grid);
		const merged = new WeightedStatistics();
		for (const part of windows) {
			const coverage = pixelCoverage(polygons, rule, part);
			if (coverage === null) continue;
			const partial = new WeightedStatistics();
			for (let r = 0; r < coverage.height; r++) {
				for (let c = 0; c < coverage.width; c++) {
					const weight = coverage.weights[r * coverage.width + c] ?? 0;
					if (weight === 0) continue;
					const value = ndvi[(coverage.rowStart + r) * red.grid.width + coverage.colStart + c] ?? Number.NaN;
					if (Number.isNaN(value)) partial.addNodata(weight);
					else partial.add(value, weight);
				}
			}
			merged.merge(WeightedStatistics.fromBytes(partial.toBytes()));
		}
		return merged.finish([2, 50, 98]);
	}

	const cases = {
		zonal_ndvi_fraction: "fraction",
		zonal_ndvi_center: "center",
		zonal_ndvi_all_touched: "all_touched",
	} as const;
	for (const [name, rule] of Object.entries(cases) as [keyof typeof cases, CoverageRule][]) {
		const expectedByFeature: Record<string, ExpectedStatistics> = manifestT2.zonal_cases[name].expected;
		it(`${name}: every feature, whole raster and split into windows`, () => {
			const split: PixelWindow[] = [
				{ rowStart: 0, rowEnd: 117, colStart: 0, colEnd: 240 },
				{ rowStart: 117, rowEnd: 240, colStart: 0, colEnd: 113 },
				{ rowStart: 117, rowEnd: 240, colStart: 113, colEnd: 240 },
			];
			expect(features.map((feature) => feature.id).sort()).toEqual(Object.keys(expectedByFeature).sort());
			for (const feature of features) {
				const expected = expectedByFeature[feature.id];
				if (expected === undefined) throw new Error(`no expected statistics for ${feature.id}`);
				for (const windows of [[window], split]) {
					const actual = statisticsOf(feature, rule, windows);
					const what = `${feature.id} (${windows.length} windows)`;
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
						expectClose(actual[key], expected[key], `${what} ${key}`);
					}
					expect(actual.percentiles, `${what} percentiles`).toEqual(expected.percentiles);
				}
			}
		});
	}
});
