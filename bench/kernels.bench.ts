// Throughput of the Wasm formula evaluator under Node, next to a plain TypeScript loop, on
// 16 Mpx of synthetic uint16 bands held in memory. Prints a table and one JSON line.
//
// What is timed: the evaluator runs in place, as compute runs it. Its inputs are already in the
// arena's views before timing (compute decodes blocks straight into them; the TypeScript loop's
// inputs are likewise ready in memory), and its output is left in the arena's view (the
// TypeScript loop writes into a preallocated Float32Array). One extra line times NDVI with its
// inputs copied in from JS arrays first, for the cost of that copy.
import { readFile } from "node:fs/promises";
import { compileFormula } from "../src/indices/formula";
import { type Arena, createKernels } from "../src/wasm/kernels";

const PIXELS = 16 * 1024 * 1024;
const WARMUP_RUNS = 2;
const MEASURED_RUNS = 7;
const NODATA = 0;
const HISTOGRAM = { first: -1, last: 1, bins: 20 };
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

/** The index compiled over `bands`, and an arena holding the bands in its input views. */
function inArena(index: string, bands: Record<string, Uint16Array>, scaling = { scale: 1, offset: 0 }) {
	const formula = compileFormula({ index, inputs: Object.fromEntries(Object.keys(bands).map((name) => [name, {}])) });
	if ("errors" in formula) throw new Error(JSON.stringify(formula.errors));
	const sources = formula.inputs.map((name) => bands[name] as Uint16Array);
	const arena: Arena = kernels.arena({ pixels: PIXELS, inputs: sources.map(() => ({ type: "uint16" })) });
	sources.forEach((source, i) => {
		arena.inputs[i]?.set(source);
	});
	return { program: formula.program, arena, sources, scaling: sources.map(() => ({ nodata: NODATA, ...scaling })) };
}

const wasmBytes = await readFile(new URL("../wasm/build/kernels.wasm", import.meta.url));
const kernels = createKernels(await WebAssembly.compile(wasmBytes));
const nir = syntheticBand(1);
const red = syntheticBand(2);
const blue = syntheticBand(3);
const typescriptOut = new Float32Array(PIXELS);

// Each arena reuses the memory of the one before it, so each is measured before the next is made.
const ndvi = inArena("NDVI", { nir, red });
ndvi.arena.evaluate(ndvi.program, ndvi.scaling);
typescriptNormalizedDifference(nir, red, typescriptOut);
// Both compute the same float32 result for uint16 input, so the comparison is like for like.
const identical = ndvi.arena.output.every((value, i) => Object.is(value, typescriptOut[i]));
if (!identical) throw new Error("Wasm and TypeScript NDVI disagree");
const ndviInPlace = measure("wasm evaluator NDVI, in place (inputs already in Wasm memory)", () => {
	ndvi.arena.evaluate(ndvi.program, ndvi.scaling);
});
const ndviCopiedIn = measure("wasm evaluator NDVI, inputs copied in from JS arrays first", () => {
	ndvi.sources.forEach((source, i) => {
		ndvi.arena.inputs[i]?.set(source);
	});
	ndvi.arena.evaluate(ndvi.program, ndvi.scaling);
});
const statisticsKernel = measure("wasm statistics of the NDVI output, in place (count, min, max, sums, sketch)", () => {
	ndvi.arena.outputStats(null);
});
const smoothOutput = new Float32Array(PIXELS);
for (let i = 0; i < PIXELS; i++) {
	const x = i % 4096;
	const y = Math.floor(i / 4096);
	smoothOutput[i] = 0.45 + 0.3 * Math.sin(x / 97) * Math.cos(y / 131) + 0.02 * Math.sin(x * 1.7 + y * 0.3);
}
const randomOutput = ndvi.arena.output.slice();
ndvi.arena.output.set(smoothOutput);
const statisticsSmooth = measure("wasm statistics of a smooth field, in place", () => {
	ndvi.arena.outputStats(null);
});
ndvi.arena.output.set(randomOutput);
const ndviWithStats = measure("wasm evaluator NDVI with its statistics fused", () => {
	ndvi.arena.evaluateWithStats(ndvi.program, ndvi.scaling, null);
});
const statisticsWithHistogram = measure(
	`wasm statistics of the NDVI output with a ${HISTOGRAM.bins}-bin histogram over fixed edges`,
	() => {
		ndvi.arena.outputStats(HISTOGRAM);
	},
);
const evi = inArena("EVI", { nir, red, blue }, REFLECTANCE);
const eviInPlace = measure("wasm evaluator EVI, scaled to reflectance, in place", () => {
	evi.arena.evaluate(evi.program, evi.scaling);
});
const eviWithStats = measure("wasm evaluator EVI with its statistics fused", () => {
	evi.arena.evaluateWithStats(evi.program, evi.scaling, null);
});
const typescriptLoop = measure("typescript NDVI loop", () => {
	typescriptNormalizedDifference(nir, red, typescriptOut);
});
const results = [
	ndviInPlace,
	ndviCopiedIn,
	statisticsKernel,
	statisticsSmooth,
	ndviWithStats,
	statisticsWithHistogram,
	eviInPlace,
	eviWithStats,
	typescriptLoop,
].map((result) => ({ ...result, ratio_to_ndvi: Number((result.mpx_per_s / ndviInPlace.mpx_per_s).toFixed(2)) }));

const nameWidth = Math.max(...results.map((result) => result.name.length));
console.log(
	`${"kernel".padEnd(nameWidth)}  ${"median ms".padStart(10)}  ${"Mpx/s".padStart(8)}  ${"x NDVI".padStart(7)}`,
);
for (const { name, median_ms, mpx_per_s, ratio_to_ndvi } of results) {
	console.log(
		`${name.padEnd(nameWidth)}  ${median_ms.toFixed(2).padStart(10)}  ${mpx_per_s.toFixed(1).padStart(8)}  ${ratio_to_ndvi.toFixed(2).padStart(7)}`,
	);
}
console.log(
	JSON.stringify({
		bench: "kernels",
		node: process.version,
		pixels: PIXELS,
		warmup_runs: WARMUP_RUNS,
		measured_runs: MEASURED_RUNS,
		ndvi_speedup_over_typescript: Number((ndviInPlace.mpx_per_s / typescriptLoop.mpx_per_s).toFixed(2)),
		results,
	}),
);
