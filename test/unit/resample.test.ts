import { describe, expect, it } from "vitest";
import type { GeoReference } from "../../src/raster/georeference";
import { type Grid, type InputMapping, targetGrid } from "../../src/raster/grid";
import type { PixelWindow } from "../../src/raster/read";
import { planResample, type ResamplingMethod } from "../../src/raster/resample";
import geometryCases from "../fixtures/geometry/cases.json";
import manifestT2 from "../fixtures/t2/manifest-t2.json";
import { seededRandom } from "../random";
import { openRaster, refusal, wholeWindow } from "../rasters";

const files = {
	...import.meta.glob<ArrayBuffer>("../fixtures/geometry/*.{tif,f32}", { eager: true, import: "default" }),
	...import.meta.glob<ArrayBuffer>("../fixtures/t2/*.{tif,f32}", { eager: true, import: "default" }),
};

function file(path: string): ArrayBuffer {
	const bytes = files[`../fixtures/${path}`];
	if (bytes === undefined) throw new Error(`no fixture ${path}`);
	return bytes;
}

interface GridSpec {
	origin: [number, number];
	resolution: number;
	width: number;
	height: number;
}

function gridOf(spec: GridSpec, crs: GeoReference): Grid {
	const [x, y] = spec.origin;
	return { geotransform: [x, spec.resolution, 0, y, 0, -spec.resolution], width: spec.width, height: spec.height, crs };
}

/** Resamples the input onto a window of the target grid, reading only the plan's source window. */
async function resampled(
	mapping: InputMapping,
	bytes: ArrayBuffer,
	window: PixelWindow,
	method: ResamplingMethod,
): Promise<Float32Array> {
	const raster = await openRaster(bytes);
	const plan = planResample(mapping, window, method);
	const samples = plan.sourceWindow === null ? null : await raster.read(plan.sourceWindow);
	return plan.resample(samples, raster.nodata);
}

/** Each pixel within `tolerance` of GDAL's, relative; NaN exactly where GDAL has NaN. */
function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
	expect(actual.length).toBe(expected.length);
	let worst = 0;
	for (let i = 0; i < expected.length; i++) {
		const want = expected[i] ?? Number.NaN;
		const got = actual[i] ?? Number.NaN;
		if (Number.isNaN(want) || Number.isNaN(got)) {
			expect(Number.isNaN(got), `pixel ${i}: GDAL ${want}, here ${got}`).toBe(Number.isNaN(want));
			continue;
		}
		worst = Math.max(worst, Math.abs(got - want) / Math.max(Math.abs(want), 1e-30));
	}
	expect(worst).toBeLessThanOrEqual(tolerance);
}

describe("resampling as gdalwarp -ot Float32 (test/fixtures/geometry/generate.py)", () => {
	for (const [name, spec] of Object.entries(geometryCases.resample)) {
		it(name, async () => {
			const source = await openRaster(file(`geometry/${spec.source}`));
			const target = gridOf(spec.target_grid as GridSpec, source.grid.crs);
			const inputs = [
				{ name: "target", grid: target },
				{ name: "source", grid: source.grid },
				...(spec.finest_grid ? [{ name: "finest", grid: gridOf(spec.finest_grid as GridSpec, source.grid.crs) }] : []),
			];
			const [, mapping] = targetGrid(inputs, "target").inputs;
			if (mapping === undefined) throw new Error("no mapping");
			const method = spec.method as ResamplingMethod;
			const whole = await resampled(mapping, file(`geometry/${spec.source}`), wholeWindow(target), method);
			const expected = new Float32Array(file(`geometry/${spec.expected}`));
			expectClose(whole, expected, method === "nearest" ? 0 : 1e-6);

			// Any window of the target gives the same pixels as the whole one.
			const random = seededRandom(name.length * 7919);
			for (let trial = 0; trial < 12; trial++) {
				const rowStart = Math.floor(random() * target.height);
				const colStart = Math.floor(random() * target.width);
				const window = {
					rowStart,
					colStart,
					rowEnd: trial % 3 === 0 ? target.height : rowStart + 1 + Math.floor(random() * (target.height - rowStart)),
					colEnd: trial % 4 === 0 ? target.width : colStart + 1 + Math.floor(random() * (target.width - colStart)),
				};
				const part = await resampled(mapping, file(`geometry/${spec.source}`), window, method);
				const width = window.colEnd - window.colStart;
				for (let row = window.rowStart; row < window.rowEnd; row++) {
					const fromWhole = whole.subarray(row * target.width + window.colStart, row * target.width + window.colEnd);
					const fromPart = part.subarray((row - window.rowStart) * width, (row - window.rowStart + 1) * width);
					expect(Array.from(fromPart), `window ${JSON.stringify(window)} row ${row}`).toEqual(Array.from(fromWhole));
				}
			}
		});
	}
});

interface RasterCase {
	request: { inputs: Record<string, { file: string; resampling?: ResamplingMethod }>; grid?: { like: string } };
	expected: string;
	shape: [number, number];
	ignore_border: number;
	tolerance: number;
}

describe("NDMI of 10 m and 20 m bands (manifest-t2.json)", () => {
	const cases = manifestT2.raster_cases as unknown as Record<string, RasterCase>;
	for (const name of ["ndmi_10m_20m_bilinear", "ndmi_10m_20m_nearest", "ndmi_on_20m_grid"]) {
		it(name, async () => {
			const spec = cases[name];
			if (spec === undefined) throw new Error(`no case ${name}`);
			const rasters = await Promise.all(
				Object.entries(spec.request.inputs).map(async ([input, { file: path }]) => ({
					name: input,
					bytes: file(`t2/${path}`),
					raster: await openRaster(file(`t2/${path}`)),
				})),
			);
			const target = targetGrid(
				rasters.map(({ name: input, raster }) => ({ name: input, grid: raster.grid })),
				spec.request.grid?.like,
			);
			const [height, width] = spec.shape;
			expect([target.grid.height, target.grid.width]).toEqual(spec.shape);
			const bands: Record<string, Float32Array> = {};
			for (const mapping of target.inputs) {
				const input = rasters.find((entry) => entry.name === mapping.name);
				if (input === undefined) throw new Error("input lost");
				const method = spec.request.inputs[mapping.name]?.resampling ?? "bilinear";
				bands[mapping.name] = await resampled(mapping, input.bytes, wholeWindow(target.grid), method);
			}
			const { nir, swir16 } = bands;
			if (nir === undefined || swir16 === undefined) throw new Error("bands lost");
			const ndmi = new Float32Array(width * height);
			for (let i = 0; i < ndmi.length; i++) {
				const a = nir[i] ?? Number.NaN;
				const b = swir16[i] ?? Number.NaN;
				ndmi[i] = Math.fround(Math.fround(a - b) / Math.fround(a + b));
			}
			const expected = new Float32Array(file(`t2/${spec.expected}`));
			const border = spec.ignore_border;
			const inner = (array: Float32Array) =>
				Float32Array.from(
					Array.from({ length: height - 2 * border }, (_, r) =>
						Array.from(array.subarray((r + border) * width + border, (r + border + 1) * width - border)),
					).flat(),
				);
			expectClose(inner(ndmi), inner(expected), spec.tolerance);
			// gdalwarp's outer edge is matched too, not only the part the manifest compares.
			expectClose(ndmi, expected, spec.tolerance);
		});
	}

	it("reads a quarter of a 20 m input's pixels under a 10 m window (and bilinear's margin)", async () => {
		const nir = await openRaster(file("t2/nir_10m.tif"));
		const swir = await openRaster(file("t2/swir16_20m.tif"));
		const { inputs } = targetGrid([
			{ name: "nir", grid: nir.grid },
			{ name: "swir16", grid: swir.grid },
		]);
		const [nirMapping, swirMapping] = inputs;
		expect(nirMapping?.identity).toBe(true);
		expect(swirMapping).toMatchObject({ scale: "coarser", factor: 2, colOffset: 0, rowOffset: 0, identity: false });
		if (swirMapping === undefined) throw new Error("no mapping");
		const window = { rowStart: 40, rowEnd: 140, colStart: 60, colEnd: 160 };
		expect(planResample(swirMapping, window, "nearest").sourceWindow).toEqual({
			rowStart: 20,
			rowEnd: 70,
			colStart: 30,
			colEnd: 80,
		});
		expect(planResample(swirMapping, window, "bilinear").sourceWindow).toEqual({
			rowStart: 19,
			rowEnd: 71,
			colStart: 29,
			colEnd: 81,
		});
		// Starting mid-pixel and ending at the raster's last row and column.
		expect(
			planResample(swirMapping, { rowStart: 3, rowEnd: 240, colStart: 1, colEnd: 240 }, "nearest").sourceWindow,
		).toEqual({
			rowStart: 1,
			rowEnd: 120,
			colStart: 0,
			colEnd: 120,
		});
	});
});

describe("targetGrid", () => {
	const utm33n: GeoReference = {
		modelPixelScale: null,
		modelTiepoint: null,
		modelTransformation: null,
		geoKeyDirectory: [1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 32633],
		geoDoubleParams: null,
		geoAsciiParams: null,
	};
	const utm34n = { ...utm33n, geoKeyDirectory: [1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, 32634] };
	const grid = (x: number, y: number, pixel: number, size: number, crs = utm33n): Grid => ({
		geotransform: [x, pixel, 0, y, 0, -pixel],
		width: size,
		height: size,
		crs,
	});

	it("takes the finest grid (the first of equals), or the one named", () => {
		const inputs = [
			{ name: "b11", grid: grid(600000, 5300040, 20, 50) },
			{ name: "b8", grid: grid(600000, 5300040, 10, 100) },
			{ name: "b4", grid: grid(600000, 5300040, 10, 90) },
			{ name: "b1", grid: grid(600000, 5300040, 60, 17) },
		];
		expect(targetGrid(inputs).like).toBe("b8");
		const on60 = targetGrid(inputs, "b1");
		expect(on60.grid).toBe(inputs[3]?.grid);
		expect(on60.inputs.map(({ scale, factor }) => [scale, factor])).toEqual([
			["finer", 3],
			["finer", 6],
			["finer", 6],
			["same", 1],
		]);
		expect(on60.inputs[3]?.identity).toBe(true);
		// The same grid but smaller than the target: not read as is.
		expect(targetGrid(inputs).inputs[2]).toMatchObject({ scale: "same", identity: false });
	});

	it("gives offsets of coarser inputs in target pixels", () => {
		const { inputs } = targetGrid([
			{ name: "nir", grid: grid(600000, 5300040, 10, 100) },
			{ name: "swir", grid: grid(600030, 5299990, 20, 40) },
		]);
		expect(inputs[1]).toMatchObject({
			scale: "coarser",
			factor: 2,
			colOffset: 3,
			rowOffset: 5,
			columns: { targetStep: 1, sourceStep: 2, offset: 3 },
			rows: { targetStep: 1, sourceStep: 2, offset: 5 },
		});
	});

	it("refuses grids that cannot share one target, naming both inputs and grids", () => {
		const nir = { name: "nir", grid: grid(600000, 5300040, 10, 100) };
		const cases: [Grid, RegExp][] = [
			[grid(600000, 5300040, 20, 50, utm34n), /reference systems differ.*EPSG:32634.*EPSG:32633/],
			[grid(600000, 5300040, 15, 50), /pixel sizes 15 and 10 are not integer multiples/],
			[grid(600005, 5300040, 20, 50), /x origins 600005 and 600000 are not a whole number/],
			[{ ...grid(600000, 5300040, 20, 50), geotransform: [600000, 20, 0.5, 5300040, 0, -20] }, /rotated/],
		];
		for (const [other, detail] of cases) {
			const error = refusal(() => targetGrid([nir, { name: "swir", grid: other }]));
			expect(error.code).toBe("raster-mismatch");
			expect(error.status).toBe(422);
			expect(error.message).toMatch(detail);
			expect(error.message).toMatch(/'nir' has origin \(600000, 5300040\), pixel 10 x 10/);
			expect(error.errors?.map((entry) => entry.path).sort()).toEqual(["inputs.nir", "inputs.swir"]);
		}
		// 20 m and 30 m both sit on a 10 m grid, but neither divides the other.
		const error = refusal(() =>
			targetGrid(
				[nir, { name: "a", grid: grid(600000, 5300040, 20, 50) }, { name: "b", grid: grid(600000, 5300040, 30, 30) }],
				"a",
			),
		);
		expect(error.message).toMatch(/'b' and 'a'.*not integer multiples/);
		expect(refusal(() => targetGrid([nir], "swir")).errors).toEqual([
			{ path: "grid.like", message: "must name an input (nir)" },
		]);
	});
});
