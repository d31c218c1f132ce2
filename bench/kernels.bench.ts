// Throughput of the Wasm formula evaluator under Node, next to a plain TypeScript loop, on
// 16 Mpx of synthetic uint16 bands held in memory. Prints a table and one JSON line.
import { readFile } from "node:fs/promises";
import { compileFormula } from "../src/indices/formula";
import { createKernels, type EvaluatorInput } from "../src/wasm/kernels";

const PIXELS = 16 * 1024 * 1024;
const WARMUP_RUNS = 2;
const MEASURED_RUNS = 7;
const NODATA = 0;
const HISTOGRAM = { first: -1, last: 1, bins: 200 };
/** Sentinel-2 L2A after processing baseline 04.00: reflectance = DN * 0.0001 - 0.1. */
const REFLECTANCE = { scale: 0.0001, offset: -0.1 };

interface Measurement {
	name: string;
	median_ms: number;
	mpx_per_s: number;
}

/** Median wall time of `run` after warm-up, so JIT tiering and page faults are excluded. */
function measure(name: string, run: () => void): Measurement {
	for (let i = 0; i < WARMUP_RUNS; i++) run();
	const times: number[] = [];
	for (let i = 0; i < MEASURED_RUNS; i++) {
		const start = performance.now();
		run();
		times.push(performance.now() - start);
	}
	times.sort((x, y) => x - y);
	const medianMs = times[Math.floor(times.length / 2)] ?? Number.NaN;
	return {
		name,
		median_ms: Number(medianMs.toFixed(2)),
		mpx_per_s: Number((PIXELS / 1e6 / (medianMs / 1000)).toFixed(1)),
	};
}

/** Reflectance-like uint16 bands (DN 1000..11000) with about 1% nodata, from a fixed seed. */
function syntheticBand(seed: number): Uint16Array {
	const band = new Uint16Array(PIXELS);
	let state = seed;
	for (let i = 0; i < PIXELS; i++) {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		band[i] = state % 100 === 0 ? NODATA : 1000 + ((state >>> 8) % 10001);
	}
	return band;
}

/** The straightforward TypeScript NDVI a Worker would otherwise run. */
function typescriptNormalizedDifference(a: Uint16Array, b: Uint16Array, out: Float32Array): void {
	for (let i = 0; i < a.length; i++) {
		const x = a[i] as number;
		const y = b[i] as number;
		const sum = x + y;
		out[i] = x === NODATA || y === NODATA || sum === 0 ? Number.NaN : (x - y) / sum;
	}
}

function compiled(index: string, bands: Record<string, Uint16Array>, scaling = { scale: 1, offset: 0 }) {
	const formula = compileFormula({ index, inputs: Object.fromEntries(Object.keys(bands).map((name) => [name, {}])) });
	if ("errors" in formula) throw new Error(JSON.stringify(formula.errors));
	const inputs: EvaluatorInput[] = formula.inputs.map((name) => ({
		data: bands[name] as Uint16Array,
		nodata: NODATA,
		...scaling,
	}));
	return { program: formula.program, inputs };
}

const wasmBytes = await readFile(new URL("../wasm/build/kernels.wasm", import.meta.url));
const kernels = createKernels(await WebAssembly.compile(wasmBytes));
const nir = syntheticBand(1);
const red = syntheticBand(2);
const blue = syntheticBand(3);

const wasmOut = new Float32Array(PIXELS);
const typescriptOut = new Float32Array(PIXELS);
const ndvi = compiled("NDVI", { nir, red });
const evi = compiled("EVI", { nir, red, blue }, REFLECTANCE);
kernels.evaluate(ndvi.program, ndvi.inputs, wasmOut);
typescriptNormalizedDifference(nir, red, typescriptOut);
// Both compute the same float32 result for uint16 input, so the comparison is like for like.
const identical = wasmOut.every((value, i) => Object.is(value, typescriptOut[i]));
if (!identical) throw new Error("Wasm and TypeScript NDVI disagree");

const results = [
	measure("wasm evaluator NDVI (u16 copy-in + evaluate + copy-out)", () => {
		kernels.evaluate(ndvi.program, ndvi.inputs, wasmOut);
	}),
	measure("wasm evaluator EVI, scaled to reflectance (same)", () => {
		kernels.evaluate(evi.program, evi.inputs, wasmOut);
	}),
	measure("typescript NDVI loop", () => {
		typescriptNormalizedDifference(nir, red, typescriptOut);
	}),
	measure(`wasm stripStats (copy-in + ${HISTOGRAM.bins} bins)`, () => {
		kernels.stripStats(typescriptOut, HISTOGRAM);
	}),
];

const nameWidth = Math.max(...results.map((result) => result.name.length));
console.log(`${"kernel".padEnd(nameWidth)}  ${"median ms".padStart(10)}  ${"Mpx/s".padStart(8)}`);
for (const { name, median_ms, mpx_per_s } of results) {
	console.log(`${name.padEnd(nameWidth)}  ${median_ms.toFixed(2).padStart(10)}  ${mpx_per_s.toFixed(1).padStart(8)}`);
}
const [ndviResult, , typescriptResult] = results;
console.log(
	JSON.stringify({
		bench: "kernels",
		node: process.version,
		pixels: PIXELS,
		warmup_runs: WARMUP_RUNS,
		measured_runs: MEASURED_RUNS,
		ndvi_speedup_over_typescript: Number(
			((ndviResult?.mpx_per_s ?? 0) / (typescriptResult?.mpx_per_s ?? Number.NaN)).toFixed(2),
		),
		results,
	}),
);
