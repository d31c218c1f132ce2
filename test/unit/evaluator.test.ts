// The formula evaluator in Wasm against the plain TypeScript evaluation of the same AST: every
// catalog index on seeded random inputs, the functions on their edge values, comparisons, logic
// and bitwise operators on inputs with nodata, the nodata, scale and offset rules on every sample
// type, and a masked expression over Landsat-like bands against numpy's result.
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { compileProgram } from "../../src/formula/compile";
import { evaluateFormula } from "../../src/formula/evaluate";
import { parseFormula } from "../../src/formula/parse";
import catalog from "../../src/indices/catalog/spectral-indices-dict.json";
import { compileFormula } from "../../src/indices/formula";
import { indices } from "../../src/indices/registry";
import type { SampleArray } from "../../src/raster/samples";
import { kernels } from "../../src/wasm/index";
import { evaluateCopied, type SampleInput } from "../arena";
import expectedBitwiseQa from "../fixtures/t2/expr_bitwise_qa.f32";
import lsNir from "../fixtures/t2/ls_nir_30m.tif";
import lsQa from "../fixtures/t2/ls_qa_pixel_30m.tif";
import lsRed from "../fixtures/t2/ls_red_30m.tif";
import { seededRandom } from "../random";

const RELATIVE_TOLERANCE = 1e-5;
const PIXELS = 1037;

/** Where the Wasm result and the reference disagree: NaN must meet NaN, numbers the tolerance. */
function disagreements(got: Float32Array, expected: Float32Array): string[] {
	const found: string[] = [];
	for (let i = 0; i < expected.length; i++) {
		const want = expected[i] as number;
		const value = got[i] as number;
		const valid = Number.isFinite(want);
		const close = valid ? Math.abs(value - want) <= RELATIVE_TOLERANCE * Math.abs(want) : Number.isNaN(value);
		if (!close) found.push(`pixel ${i}: got ${value}, expected ${want}`);
	}
	return found;
}

/** The reference of the evaluator's output: non-finite results are NaN. */
function reference(
	ast: ReturnType<typeof parseFormula>,
	names: readonly string[],
	columns: readonly Float32Array[],
	constants: Record<string, number>,
): Float32Array {
	const out = new Float32Array(columns[0]?.length ?? 0);
	for (let i = 0; i < out.length; i++) {
		const values: Record<string, number> = { ...constants };
		names.forEach((name, k) => {
			values[name] = (columns[k] as Float32Array)[i] as number;
		});
		const value = evaluateFormula(ast, values);
		out[i] = Number.isFinite(value) ? value : Number.NaN;
	}
	return out;
}

/** Values for the constants the catalog gives no default: Sentinel-2 centre wavelengths (nm). */
const SENTINEL2_WAVELENGTHS: Record<string, number> = {
	lambdaG: 560,
	lambdaR: 665,
	lambdaN: 842,
	lambdaN2: 865,
	lambdaS1: 1610,
	lambdaS2: 2190,
};

const unscaled = (data: SampleArray, nodata: number | null = null) => ({ data, nodata, scale: 1, offset: 0 });

describe("the catalog", () => {
	it("has every index of the Awesome Spectral Indices file, and every catalog formula parses", () => {
		const entries = Object.values(catalog.SpectralIndices);
		expect(entries.length).toBe(280);
		expect([...indices.keys()].sort()).toEqual(entries.map((entry) => entry.short_name).sort());
		for (const entry of entries) expect(() => parseFormula(entry.formula), entry.short_name).not.toThrow();
	});

	for (const index of indices.values()) {
		it(`${index.id}: the Wasm evaluator matches the TypeScript evaluation of its AST`, () => {
			const constants = Object.fromEntries(
				index.constants
					.filter((constant) => constant.default === null)
					.map((constant) => [constant.name, SENTINEL2_WAVELENGTHS[constant.name] ?? 1000]),
			);
			const formula = compileFormula({
				index: index.id,
				constants,
				inputs: Object.fromEntries(index.bands.map((band) => [band, {}])),
			});
			const random = seededRandom(index.id.length * 7919 + (index.id.codePointAt(0) ?? 0));
			// Reflectance-like values, with a few NaN pixels standing for nodata.
			const columns = formula.inputs.map(() =>
				Float32Array.from({ length: PIXELS }, () => (random() < 0.02 ? Number.NaN : 0.01 + random() * 0.99)),
			);
			const got = evaluateCopied(
				formula.program,
				columns.map((column) => unscaled(column)),
			);
			const expected = reference(index.ast, formula.inputs, columns, formula.constants);
			expect(disagreements(got, expected)).toEqual([]);
			// Enough pixels give a number that the comparison is not NaN against NaN.
			expect(expected.filter(Number.isFinite).length).toBeGreaterThan(PIXELS / 4);
		});
	}
});

/** Evaluates a one-variable expression over `values` in Wasm and in TypeScript. */
function bothWays(expression: string, values: readonly number[]): [Float32Array, Float32Array] {
	const ast = parseFormula(expression);
	const program = compileProgram(ast, 1, () => ({ input: 0 }));
	const column = Float32Array.from(values);
	return [evaluateCopied(program, [unscaled(column)]), reference(ast, ["x"], [column], {})];
}

describe("functions and operators", () => {
	const random = seededRandom(42);
	const spread = Array.from({ length: 2000 }, () => (random() - 0.5) * 2 ** Math.floor(random() * 30 - 15));
	const special = [0, -0, 1, -1, 0.5, 2, 1e-30, 1e-40, -1e-40, 3.4e38, -3.4e38, 88.7, 89, -87, -103, -104, 1e6];
	const values = [...special, ...spread, Number.NaN];
	const expressions = [
		"exp(x)",
		"log(x)",
		"log(abs(x))",
		"tanh(x)",
		"sqrt(x)",
		"abs(x)",
		"-x",
		"x ** 2",
		"x ** 3",
		"x ** -2",
		"x ** 0.5",
		"x ** 1.7",
		"abs(x) ** x",
		"x ** x",
		"x ** 0",
		"2 ** x",
		"(-2) ** x",
		"min(x, 0.25, 1)",
		"max(x, -0.25)",
		"clamp(x, -1, 1)",
		"exp(-x * x / 2) * 3 - 1",
		"tanh(x / 1000) * 1000",
		"x * 2 + 1",
		"1 - x * 3",
		"(x - 1) / (x + 1)",
		"(x - 1) / (1 + x)",
	];
	for (const expression of expressions) {
		it(`${expression} agrees within ${RELATIVE_TOLERANCE} relative, and NaN stays NaN`, () => {
			const [got, expected] = bothWays(expression, values);
			expect(disagreements(got, expected)).toEqual([]);
			expect(Number.isNaN(got[got.length - 1])).toBe(true);
		});
	}

	it("answers Math's special values: exp(-Infinity)-like underflow is 0, log(0) non-finite is NaN", () => {
		const [got] = bothWays("exp(x)", [-200, 0, 1, 88.72, 100]);
		expect(Array.from(got)).toEqual([0, 1, Math.fround(Math.E), Math.fround(Math.exp(Math.fround(88.72))), Number.NaN]);
		const [logs] = bothWays("log(x)", [0, -1, 1, Math.E]);
		expect(Array.from(logs)).toEqual([Number.NaN, Number.NaN, 0, expect.closeTo(1, 6)]);
	});
});

describe("fused pairs of operations", () => {
	const random = seededRandom(31);
	const column = () => Float32Array.from({ length: 515 }, () => (random() - 0.3) * 2 ** Math.floor(random() * 20 - 10));
	const [x, y, z] = [column(), column(), column()] as [Float32Array, Float32Array, Float32Array];
	const operators = ["+", "-", "*", "/"];
	const shapes = operators.flatMap((first) =>
		operators.flatMap((second) => [`(x ${first} y) ${second} z`, `z ${second} (x ${first} y)`]),
	);
	for (const expression of shapes) {
		it(`${expression} is one instruction, bit for bit the two float32 operations`, () => {
			const formula = compileFormula({ expression, inputs: { x: {}, y: {}, z: {} } });
			expect(formula.program.code.length).toBe(5);
			const got = evaluateCopied(formula.program, [unscaled(x), unscaled(y), unscaled(z)]);
			const expected = reference(parseFormula(expression), ["x", "y", "z"], [x, y, z], {});
			const differing = Array.from(got).filter((value, i) => !Object.is(value, expected[i]));
			expect(differing).toEqual([]);
		});
	}
});

describe("inputs", () => {
	const sampleTypes: [string, SampleArray, number][] = [
		["Uint8Array", new Uint8Array([0, 1, 200, 255, 7]), 255],
		["Int8Array", new Int8Array([0, -1, 100, -128, 7]), -128],
		["Uint16Array", new Uint16Array([0, 1, 5000, 65535, 7]), 65535],
		["Int16Array", new Int16Array([0, -1, 5000, -32768, 7]), -32768],
		["Uint32Array", new Uint32Array([0, 1, 4e9, 4294967295, 7]), 4294967295],
		["Int32Array", new Int32Array([0, -1, 2e9, -2147483647, 7]), -2147483647],
		["Float32Array", new Float32Array([0, -1, 0.25, -9999, 7]), -9999],
		["Float64Array", new Float64Array([0, -1, 0.25, 0.1, 7]), 0.1],
	];
	for (const [name, data, nodata] of sampleTypes) {
		it(`${name}: applies scale and offset, and makes nodata pixels NaN whatever the formula`, () => {
			// x ** 0 and min() would turn a NaN into a number under Math's rules; nodata must win.
			const formula = compileFormula({ expression: "x * 1 + min(x, 1e30) * 0 + x ** 0 - 1", inputs: { x: {} } });
			const got = evaluateCopied(formula.program, [{ data, nodata, scale: 0.5, offset: -2 }]);
			const expected = Array.from(data, (sample) =>
				sample === nodata ? Number.NaN : Math.fround(Math.fround(Math.fround(sample) * 0.5) - 2),
			);
			expect(Array.from(got)).toEqual(expected);
			expect(Number.isNaN(got[3])).toBe(true);
		});
	}

	it("treats NaN and infinite float samples as nodata", () => {
		const data = new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2]);
		const formula = compileFormula({ expression: "min(x, 5)", inputs: { x: {} } });
		expect(Array.from(evaluateCopied(formula.program, [unscaled(data)]))).toEqual([
			1,
			Number.NaN,
			Number.NaN,
			Number.NaN,
			2,
		]);
	});

	it("runs a constant result over every pixel and rejects programs that do not fit their inputs", () => {
		const formula = compileFormula({ expression: "x * 0 + 2", inputs: { x: {} } });
		expect(Array.from(evaluateCopied(formula.program, [unscaled(new Uint16Array(3))]))).toEqual([2, 2, 2]);
		const bare = compileFormula({ expression: "x", inputs: { x: {} } });
		expect(Array.from(evaluateCopied(bare.program, [unscaled(new Int16Array([3, -4]))]))).toEqual([3, -4]);
		expect(() => evaluateCopied(formula.program, [])).toThrow(RangeError);
		const broken = { ...formula.program, code: [99, 0, 0, 0, 0] };
		expect(() => evaluateCopied(broken, [unscaled(new Uint16Array(3))])).toThrow(RangeError);
	});

	it("evaluates strips longer than one chunk of Wasm memory", () => {
		const random = seededRandom(9);
		const length = 70_001;
		const nir = Uint16Array.from({ length }, () => Math.floor(random() * 10_000));
		const red = Uint16Array.from({ length }, () => Math.floor(random() * 10_000));
		const formula = compileFormula({ index: "SR", inputs: { nir: {}, red: {} } });
		const got = evaluateCopied(formula.program, [unscaled(nir, 0), unscaled(red, 0)]);
		const expected = reference(
			parseFormula("nir / red"),
			["nir", "red"],
			[
				Float32Array.from(nir, (v) => (v === 0 ? Number.NaN : v)),
				Float32Array.from(red, (v) => (v === 0 ? Number.NaN : v)),
			],
			{},
		);
		expect(disagreements(got, expected)).toEqual([]);
	});
});

describe("arenas", () => {
	/** More pixels than the 32768 the evaluator was once fed at a time, and not a multiple of 16. */
	const WINDOW_PIXELS = 100_003;

	it("evaluates a window of many old chunks in place, bit for bit, leaving the inputs as they were", () => {
		const random = seededRandom(31);
		const arena = kernels.arena({ pixels: WINDOW_PIXELS, inputs: [{ type: "uint16" }, { type: "uint16" }] });
		const [nir, red] = arena.inputs as [Uint16Array, Uint16Array];
		for (let i = 0; i < WINDOW_PIXELS; i++) {
			nir[i] = random() < 0.01 ? 0 : Math.floor(random() * 10_000);
			red[i] = Math.floor(random() * 10_000);
		}
		const nirBefore = nir.slice();
		const redBefore = red.slice();
		const formula = compileFormula({ index: "NDVI", inputs: { nir: {}, red: {} } });
		const unscaledNodata = { nodata: 0, scale: 1, offset: 0 };
		const got = arena.evaluate(formula.program, [unscaledNodata, unscaledNodata]);
		expect(got).toBe(arena.output);
		expect(got.buffer).toBe(nir.buffer);
		// uint16 sums and differences are exact in float32, so one rounded division is numpy's NDVI.
		const expected = Float32Array.from(nirBefore, (x, i) => {
			const y = redBefore[i] as number;
			return x === 0 || y === 0 || x + y === 0 ? Number.NaN : Math.fround((x - y) / (x + y));
		});
		expect(Array.from(got).filter((value, i) => !Object.is(value, expected[i]))).toEqual([]);
		expect(nir).toEqual(nirBefore);
		expect(red).toEqual(redBefore);
	});

	it("lays out one view per input in its own sample type, 16-byte aligned, with nodata, scale and offset per input", () => {
		const types = ["uint8", "int8", "int16", "uint32", "int32", "float32", "float64"] as const;
		const random = seededRandom(57);
		const arena = kernels.arena({ pixels: WINDOW_PIXELS, inputs: types.map((type) => ({ type })) });
		const nodata = [255, -128, -1, 7, -5, -9999, 0.1];
		const scaling = types.map((_, i) => ({ nodata: nodata[i] as number, scale: 0.5 + i, offset: i - 3 }));
		arena.inputs.forEach((view, i) => {
			expect(view.length).toBe(WINDOW_PIXELS);
			expect(view.byteOffset % 16).toBe(0);
			for (let p = 0; p < WINDOW_PIXELS; p++) view[p] = random() < 0.05 ? (nodata[i] as number) : random() * 100;
		});
		expect([arena.inputs.map((view) => view.constructor.name), arena.output.byteOffset % 16]).toEqual([
			["Uint8Array", "Int8Array", "Int16Array", "Uint32Array", "Int32Array", "Float32Array", "Float64Array"],
			0,
		]);
		const names = types.map((_, i) => `x${i}`);
		const expression = names.join(" + ");
		const formula = compileFormula({ expression, inputs: Object.fromEntries(names.map((name) => [name, {}])) });
		// The formula sees sample * scale + offset in float32, and NaN for nodata.
		const columns = formula.inputs.map((name) => {
			const i = names.indexOf(name);
			const view = arena.inputs[i] as Float64Array;
			const { scale, offset } = scaling[i] as { scale: number; offset: number };
			const isNodata = (sample: number) =>
				sample === (view instanceof Float32Array ? Math.fround(nodata[i] as number) : nodata[i]);
			return Float32Array.from(view, (sample) =>
				isNodata(sample)
					? Number.NaN
					: Math.fround(Math.fround(Math.fround(sample) * Math.fround(scale)) + Math.fround(offset)),
			);
		});
		const got = arena.evaluate(
			formula.program,
			formula.inputs.map((name) => scaling[names.indexOf(name)] as (typeof scaling)[number]),
		);
		expect(disagreements(got, reference(parseFormula(expression), formula.inputs, columns, {}))).toEqual([]);
		expect(Array.from(got).filter(Number.isNaN).length).toBeGreaterThan(WINDOW_PIXELS * 0.2);
	});

	it("makes its views after growing memory, and refuses to run once a newer arena reuses the memory", () => {
		const formula = compileFormula({ expression: "x * 2", inputs: { x: {} } });
		const unscaled = { nodata: null, scale: 1, offset: 0 };
		const small = kernels.arena({ pixels: 4, inputs: [{ type: "float32" }] });
		const bytesBefore = small.output.buffer.byteLength;
		// The output alone needs more bytes than memory has, so making this arena grows it.
		const pixels = bytesBefore / 4 + 1;
		const large = kernels.arena({ pixels, inputs: [{ type: "float32" }] });
		const [x] = large.inputs as [Float32Array];
		expect(large.output.buffer.byteLength).toBeGreaterThan(bytesBefore);
		expect([x.length, large.output.length]).toEqual([pixels, pixels]);
		for (let i = 0; i < pixels; i++) x[i] = i % 1000;
		const got = large.evaluate(formula.program, [unscaled]);
		expect(got.length).toBe(pixels);
		expect(Array.from(got).filter((value, i) => value !== (i % 1000) * 2)).toEqual([]);
		expect(() => small.evaluate(formula.program, [unscaled])).toThrow(/newer arena/);
		expect(() => small.outputStats({ first: 0, last: 1, bins: 1 })).toThrow(/newer arena/);
	});

	it("takes statistics of its output in place", () => {
		const arena = kernels.arena({ pixels: 6, inputs: [{ type: "int16" }] });
		arena.inputs[0]?.set([-3, 0, 5, 2, -32768, 1]);
		const formula = compileFormula({ expression: "x / 2", inputs: { x: {} } });
		arena.evaluate(formula.program, [{ nodata: -32768, scale: 1, offset: 0 }]);
		const keyOf = (value: number) => (new Uint32Array(new Float32Array([value]).buffer)[0] as number) >>> 16;
		expect(arena.outputStats({ first: -1, last: 1, bins: 2 })).toEqual({
			count: 5,
			nodata_count: 1,
			min: -1.5,
			max: 2.5,
			sum: 2.5,
			// Squared deviations from the mean, 0.5.
			m2: 2 ** 2 + 0.5 ** 2 + 2 ** 2 + 0.5 ** 2 + 0 ** 2,
			// (key, count) pairs in key order: 0, 0.5, 1, 2.5, then -1.5 (its sign bit set).
			sketch: new Uint32Array([keyOf(0), 1, keyOf(0.5), 1, keyOf(1), 1, keyOf(2.5), 1, keyOf(-1.5), 1]),
			histogram: { counts: [0, 3], below: 1, above: 1 },
		});
	});

	it("refuses inputs scaled for another layout", () => {
		const arena = kernels.arena({ pixels: 3, inputs: [{ type: "uint8" }] });
		const formula = compileFormula({ expression: "x", inputs: { x: {} } });
		expect(() => arena.evaluate(formula.program, [])).toThrow(RangeError);
	});
});

/**
 * The reference of the evaluator over sample inputs: what the formula sees of each input (NaN
 * for nodata or a non-finite sample, else sample * scale + offset in float32) and, for bitwise
 * operands, the raw sample.
 */
function referenceOfSamples(
	expression: string,
	names: readonly string[],
	inputs: readonly SampleInput[],
): Float32Array {
	const ast = parseFormula(expression);
	const out = new Float32Array(inputs[0]?.data.length ?? 0);
	for (let i = 0; i < out.length; i++) {
		const values: Record<string, number> = {};
		const raw: Record<string, number> = {};
		inputs.forEach(({ data, nodata, scale, offset }, k) => {
			const sample = Math.fround(data[i] as number);
			const valid = Number.isFinite(sample) && sample !== nodata;
			const name = names[k] as string;
			raw[name] = valid ? sample : Number.NaN;
			const scaled =
				scale === 1 && offset === 0
					? sample
					: Math.fround(Math.fround(sample * Math.fround(scale)) + Math.fround(offset));
			values[name] = valid ? scaled : Number.NaN;
		});
		const value = evaluateFormula(ast, values, raw);
		out[i] = Number.isFinite(value) ? value : Number.NaN;
	}
	return out;
}

/** The program of an expression over `names`, in that input order. */
function programOver(expression: string, names: readonly string[]) {
	return compileProgram(parseFormula(expression), names.length, ({ name }) => ({ input: names.indexOf(name) }));
}

const differing = (got: Float32Array, expected: Float32Array) =>
	Array.from(got).flatMap((value, i) =>
		Object.is(value, expected[i]) ? [] : [`pixel ${i}: got ${value}, expected ${expected[i]}`],
	);

describe("comparisons, logic and bitwise operators", () => {
	const random = seededRandom(1313);
	const pixels = 1037;
	// Few distinct values, so comparisons meet ties; nodata in every input.
	const x = Float32Array.from({ length: pixels }, () =>
		random() < 0.05 ? Number.NaN : Math.round(random() * 16 - 8) / 2,
	);
	const y = Int16Array.from({ length: pixels }, () => (random() < 0.05 ? -1 : Math.floor(random() * 44) - 3));
	const q = Uint16Array.from({ length: pixels }, () => (random() < 0.05 ? 65535 : Math.floor(random() * 300)));
	const names = ["x", "y", "q"];
	const inputs: SampleInput[] = [
		{ data: x, nodata: null, scale: 1, offset: 0 },
		{ data: y, nodata: -1, scale: 1, offset: 0 },
		// Bitwise operators read q's raw sample, everything else 2 q + 1.
		{ data: q, nodata: 65535, scale: 2, offset: 1 },
	];
	const expressions = [
		"x < y",
		"x <= y",
		"x > q",
		"x >= 1",
		"y == q",
		"y == 2 * x",
		"x != y",
		"x == x",
		"x and y",
		"x or q",
		"not x",
		"not x < y",
		"(x < y) * 2 + (y >= q)",
		"where(x, y, q)",
		"where(x > 0, x - y, nan)",
		"where(y > 20, nan, q) + 1",
		"q & 3",
		"q | y",
		"y & x",
		"q >> 2",
		"q << 3",
		"q << y",
		"y >> q",
		"bit(q, 3)",
		"bit(q, y)",
		"bit(y, 2) * x",
		"(q >> 4) & 1 == 0",
		"q & 1 == 0 and x > 0.5",
		"where(bit(q, 0), q, -q)",
		"where(q & 1, y << 1, x) / 2",
	];
	for (const expression of expressions) {
		it(`${expression}: the Wasm evaluator is the reference, bit for bit, nodata and NaN included`, () => {
			const got = evaluateCopied(programOver(expression, names), inputs);
			const expected = referenceOfSamples(expression, names, inputs);
			expect(differing(got, expected)).toEqual([]);
			const valid = expected.filter((value) => !Number.isNaN(value)).length;
			expect(valid).toBeGreaterThan(pixels / 4);
			expect(valid).toBeLessThan(pixels);
		});
	}

	const nanCases: [string, number[], number[]][] = [
		["x < 1", [0, 2, Number.NaN], [1, 0, Number.NaN]],
		["x == x", [3, Number.NaN], [1, Number.NaN]],
		["x != 1", [1, 2, Number.NaN], [0, 1, Number.NaN]],
		["not x", [0, -0, 0.5, Number.NaN], [1, 1, 0, Number.NaN]],
		["x and 1", [0, 2, Number.NaN], [0, 1, Number.NaN]],
		["x or 0", [0, -3, Number.NaN], [0, 1, Number.NaN]],
		["where(x, 1, 2)", [3, 0, -0, Number.NaN], [1, 2, 2, Number.NaN]],
		["where(x > 0, x, nan)", [-1, 2, Number.NaN], [Number.NaN, 2, Number.NaN]],
		["x & 6", [5, 7.9, -1, Number.NaN], [4, 6, 6, Number.NaN]],
		["bit(x, 1)", [6, 5, Number.NaN], [1, 0, Number.NaN]],
	];
	for (const [expression, values, expected] of nanCases) {
		it(`${expression} over ${values.join(", ")} is ${expected.join(", ")} in Wasm and in TypeScript`, () => {
			const [got, reference] = bothWays(expression, values);
			expect([Array.from(got), Array.from(reference)]).toEqual([expected, expected]);
		});
	}

	it("reads a bitwise operand's raw sample, before the input's scale and offset", () => {
		const qa = { data: new Uint16Array([0, 1, 2, 3, 5, 7, 9]), nodata: 9, scale: 2, offset: 0 };
		const run = (expression: string) => Array.from(evaluateCopied(programOver(expression, ["qa"]), [qa]));
		expect(run("qa & 1")).toEqual([0, 1, 0, 1, 1, 1, Number.NaN]);
		expect(run("qa >> 1")).toEqual([0, 0, 1, 1, 2, 3, Number.NaN]);
		expect(run("bit(qa, 1) == 1")).toEqual([0, 0, 1, 1, 0, 1, Number.NaN]);
		expect(run("where(qa & 1, qa, 0)")).toEqual([0, 2, 0, 6, 10, 14, Number.NaN]);
	});

	it("runs a program as stored: nan from JSON's null, and a program without raw registers", () => {
		const program = programOver("where(x > 0, x, nan)", ["x"]);
		const stored = JSON.parse(JSON.stringify(program)) as typeof program;
		expect(stored.constants).toContain(null);
		const column = unscaled(new Float32Array([-1, 0, 2]));
		expect(Array.from(evaluateCopied(stored, [column]))).toEqual([Number.NaN, Number.NaN, 2]);
		const { rawOf: _, ...legacy } = programOver("x * 2", ["x"]);
		expect(Array.from(evaluateCopied(legacy, [column]))).toEqual([-2, 0, 4]);
		const bitwise = programOver("x & 1", ["x"]);
		expect(() => evaluateCopied({ ...bitwise, rawOf: [1] }, [column])).toThrow(RangeError);
	});
});

describe("EVI's one-pass scaled ratio", () => {
	/** EVI as compiled before the scaled ratio: four pair instructions, as stored with older jobs. */
	const pairsProgram = {
		code: [49, 7, 3, 1, 0, 51, 7, 4, 2, 7, 45, 8, 0, 1, 5, 39, 8, 7, 6, 8],
		inputs: 3,
		rawOf: [],
		constants: [6, 7.5, 2.5, 1],
		registers: 9,
		result: 8,
	};

	it("gives the four pair instructions' float32 results bit for bit, nodata and edge values too", () => {
		const formula = compileFormula({ index: "EVI", inputs: { nir: {}, red: {}, blue: {} } });
		expect(formula.program.code.filter((_, i) => i % 5 === 0)).toEqual([64, 65]);
		const random = seededRandom(12);
		const pixels = 4099;
		// DN around the denominator's zero and its sign change, nodata, and the extremes of uint16.
		const band = () =>
			Uint16Array.from({ length: pixels }, (_, i) =>
				i % 97 === 0 ? 0 : i % 89 === 0 ? 65535 : Math.floor(random() * (i % 3 === 0 ? 3000 : 12000)),
			);
		const bands = [band(), band(), band()];
		for (const scaling of [
			{ nodata: 0, scale: 0.0001, offset: -0.1 },
			{ nodata: null, scale: 1, offset: 0 },
		]) {
			const inputs = bands.map((data) => ({ data, ...scaling }));
			const fused = evaluateCopied(formula.program, inputs);
			const pairs = evaluateCopied(pairsProgram, inputs);
			const differing = Array.from(fused).flatMap((value, i) => (Object.is(value, pairs[i]) ? [] : [i]));
			expect(differing).toEqual([]);
		}
	});

	it("refuses an operands slot without its scaled ratio, and a ratio without its operands", () => {
		const column = unscaled(new Float32Array([1, 2, 3]));
		const inputs = [column, column, column];
		const { code } = compileFormula({ index: "EVI", inputs: { nir: {}, red: {}, blue: {} } }).program;
		const program = { ...pairsProgram, registers: 8, result: 7 };
		expect(() => evaluateCopied({ ...program, code: code.slice(5) }, inputs)).toThrow(RangeError);
		expect(() => evaluateCopied({ ...program, code: [...code.slice(0, 5), 1, 7, 0, 1, 0] }, inputs)).toThrow(
			RangeError,
		);
		// The constants k, k + 1 and k + 2 must all be registers.
		expect(() => evaluateCopied({ ...program, code: [64, 0, 1, 2, 6, ...code.slice(5)] }, inputs)).toThrow(RangeError);
	});
});

describe("manifest-t2's expr_bitwise_qa case", () => {
	it("masks NDVI of scaled Landsat bands by bits of the raw QA band as numpy does", async () => {
		const request = {
			expression: "where(bit(qa, 3) == 0 and (qa >> 4) & 1 == 0, (nir - red) / (nir + red), nan)",
			inputs: {
				red: { nodata: 0, scale: 2.75e-5, offset: -0.2 },
				nir: { nodata: 0, scale: 2.75e-5, offset: -0.2 },
				qa: { nodata: null, scale: 1, offset: 0 },
			},
		};
		const files: Record<string, ArrayBuffer> = { red: lsRed, nir: lsNir, qa: lsQa };
		const formula = compileFormula(request);
		expect([formula.rawInputs, formula.comparedInputs]).toEqual([["qa"], ["qa"]]);
		const bands = await Promise.all(
			formula.inputs.map(async (name) => {
				const image = await (await fromArrayBuffer((files[name] as ArrayBuffer).slice(0))).getImage();
				return ((await image.readRasters()) as unknown as [Uint16Array])[0];
			}),
		);
		const expected = new Float32Array(expectedBitwiseQa);
		const arena = kernels.arena({ pixels: expected.length, inputs: bands.map(() => ({ type: "uint16" as const })) });
		bands.forEach((band, i) => {
			arena.inputs[i]?.set(band);
		});
		// As compute runs it: the program as stored with the job, the request's scaling per input.
		const stored = JSON.parse(JSON.stringify(formula.program)) as typeof formula.program;
		const got = arena.evaluate(
			stored,
			formula.inputs.map((name) => request.inputs[name as keyof typeof request.inputs]),
		);
		const wrong = Array.from(expected).flatMap((want, i) => {
			const value = got[i] as number;
			const agrees = Number.isNaN(want) ? Number.isNaN(value) : Math.abs(value - want) <= 1e-5;
			return agrees ? [] : [`pixel ${i}: got ${value}, expected ${want}`];
		});
		expect(wrong).toEqual([]);
		// The mask drops some pixels and keeps most.
		const masked = Array.from(expected).filter(Number.isNaN).length;
		expect([masked > 0, masked < expected.length / 2]).toEqual([true, true]);
	});
});
