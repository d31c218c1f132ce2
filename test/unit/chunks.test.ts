import { describe, expect, it } from "vitest";
import { type ChunkOutput, chunksOf, computeInChunks } from "../../src/processes/index/chunks";
import type { PixelWindow } from "../../src/raster/read";
import { encodeTiles, halve } from "../../src/raster/tiles";
import { tileEncoder } from "../../src/wasm/index";
import { statsCopied } from "../arena";
import { seededRandom } from "../random";

const HISTOGRAM = { first: -1, last: 1, bins: 20 };

/** A raster of values in [-1.2, 1.2] with a fifth of them NaN, as an index's output. */
function raster(width: number, height: number, seed: number): Float32Array {
	const random = seededRandom(seed);
	return Float32Array.from({ length: width * height }, () => (random() < 0.2 ? Number.NaN : (random() - 0.5) * 2.4));
}

/**
 * What compute stores for `window` of a raster `width` wide, evaluated whole: its tiles, or with
 * `raw` its values (as when the histogram pass encodes them).
 */
function outputOf(values: Float32Array, width: number, window: PixelWindow, raw = false): ChunkOutput {
	const columns = window.colEnd - window.colStart;
	const rows = window.rowEnd - window.rowStart;
	const part = new Float32Array(columns * rows);
	for (let row = 0; row < rows; row++) {
		const from = (window.rowStart + row) * width + window.colStart;
		part.set(values.subarray(from, from + columns), row * columns);
	}
	const windowRaster = { values: part, width: columns, height: rows };
	return {
		output: raw ? { values: part } : { tiles: encodeTiles(windowRaster, tileEncoder) },
		half: halve(windowRaster).values,
		stats: statsCopied(part, HISTOGRAM),
		// Any count per window that the join must add up.
		maskedCount: columns,
		inputSamples: { red: { sampled: columns, far_outside: rows } },
	};
}

const rows = (window: PixelWindow) => window.rowEnd - window.rowStart;

describe("a window evaluated in chunks of columns", () => {
	it("cuts the columns every chunk, the last at the window's edge, or keeps the window whole", () => {
		const window = { rowStart: 512, rowEnd: 1024, colStart: 1024, colEnd: 2338 };
		expect(chunksOf(window, 512).map(({ colStart, colEnd }) => [colStart, colEnd])).toEqual([
			[1024, 1536],
			[1536, 2048],
			[2048, 2338],
		]);
		expect(chunksOf(window, undefined)).toEqual([window]);
		expect(chunksOf(window, 4096)).toEqual([window]);
		expect(() => chunksOf(window, 500)).toThrow(/multiple of 512/);
	});

	it.each([
		[
			"two tile rows, three chunks, the last narrow and odd",
			1400,
			700,
			{ rowStart: 0, rowEnd: 700, colStart: 0, colEnd: 1311 },
			512,
		],
		["one tile row, chunks of two tiles", 2600, 300, { rowStart: 0, rowEnd: 300, colStart: 512, colEnd: 2600 }, 1024],
	])("stores what the whole window would: %s", (_name, width, height, window, chunkColumns) => {
		const values = raster(width, height, width + height);
		const whole = outputOf(values, width, window);
		const chunked = computeInChunks(window, chunkColumns, (chunk) => outputOf(values, width, chunk));
		// Tiles row-major over the window, byte for byte (or its values, value for value); the average, value for value.
		expect(chunked.output).toEqual(whole.output);
		const raw = (chunk: PixelWindow) => outputOf(values, width, chunk, true);
		expect(computeInChunks(window, chunkColumns, raw).output).toEqual(raw(window).output);
		expect(chunked.half).toEqual(whole.half);
		// The sketch and the histogram count every chunk's values, the input samples add up.
		expect(chunked.inputSamples?.red?.far_outside).toBe(rows(window) * chunksOf(window, chunkColumns).length);
		expect(chunked.maskedCount).toBe(whole.maskedCount);
		const { sum, m2, ...exact } = chunked.stats;
		const { sum: wholeSum, m2: wholeM2, ...wholeExact } = whole.stats;
		expect(exact).toEqual(wholeExact);
		// Sums in another order: equal to float64 rounding.
		expect(sum).toBeCloseTo(wholeSum, 6);
		expect(Math.abs(m2 - wholeM2)).toBeLessThanOrEqual(1e-9 * wholeM2);
	});

	it.each([
		["in three chunks", 512],
		["whole", undefined],
	])(
		"takes each chunk's values from the arena the next one overwrites, and returns values of its own: %s",
		(_name, chunkColumns) => {
			const width = 1311;
			const window = { rowStart: 0, rowEnd: 600, colStart: 0, colEnd: width };
			const values = raster(width, 600, 7);
			// One arena for every chunk, as the kernels' is: a chunk's values are a view of it.
			const arena = new Float32Array(width * 600);
			const chunked = computeInChunks(window, chunkColumns, (chunk) => {
				const { output, ...rest } = outputOf(values, width, chunk, true);
				const chunkValues = arena.subarray(0, "values" in output ? output.values.length : 0);
				if ("values" in output) chunkValues.set(output.values);
				return { ...rest, output: { values: chunkValues } };
			});
			arena.fill(0);
			const stored = "values" in chunked.output ? chunked.output.values : new Float32Array(0);
			// The first value that differs, if any (a diff of the arrays would print 786600 values).
			expect(stored.length).toBe(values.length);
			expect(stored.findIndex((value, i) => !Object.is(value, values[i]))).toBe(-1);
		},
	);
});
