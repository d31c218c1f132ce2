// Throughput of the Wasm band-math kernels under Node, next to a plain TypeScript loop,
// on 16 Mpx of synthetic uint16 bands held in memory. Prints a table and one JSON line.
import { readFile } from "node:fs/promises";
import { createKernels, instantiateKernelExports } from "../src/wasm/kernels";

const PIXELS = 16 * 1024 * 1024;
const WARMUP_RUNS = 2;
const MEASURED_RUNS = 7;
const NODATA = 0;
const HISTOGRAM = { first: -1, last: 1, bins: 200 };

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

/** Reflectance-like uint16 bands (0..10000) with about 1% nodata, from a fixed seed. */
function syntheticBand(seed: number): Uint16Array {
	const band = new Uint16Array(PIXELS);
	let state = seed;
	for (let i = 0; i < PIXELS; i++) {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		band[i] = state % 100 === 0 ? NODATA : (state >>> 8) % 10001;
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

const wasmBytes = await readFile(new URL("../wasm/build/kernels.wasm", import.meta.url));
const module = await WebAssembly.compile(wasmBytes);
const kernels = createKernels(module);
const nir = syntheticBand(1);
const red = syntheticBand(2);

const wasmOut = new Float32Array(PIXELS);
const typescriptOut = new Float32Array(PIXELS);
kernels.normalizedDifference(nir, red, NODATA, NODATA, wasmOut);
typescriptNormalizedDifference(nir, red, typescriptOut);
// Both compute the same float32 result for uint16 input, so the comparison is like for like.
const identical = wasmOut.every((value, i) => Object.is(value, typescriptOut[i]));
if (!identical) throw new Error("Wasm and TypeScript NDVI disagree");

// A second instance with its own memory, so the bare kernel can run on inputs placed once.
const raw = instantiateKernelExports(module);
const bandBytes = PIXELS * 4;
const nirPtr = Math.ceil(raw.heap_base() / 16) * 16;
const redPtr = nirPtr + bandBytes;
const outPtr = redPtr + bandBytes;
raw.memory.grow(Math.ceil((outPtr + bandBytes - raw.memory.buffer.byteLength) / 65536));
new Float32Array(raw.memory.buffer, nirPtr, PIXELS).set(nir);
new Float32Array(raw.memory.buffer, redPtr, PIXELS).set(red);

const results = [
	measure("wasm normalizedDifference (u16 copy-in + kernel + copy-out)", () => {
		kernels.normalizedDifference(nir, red, NODATA, NODATA, wasmOut);
	}),
	measure("wasm normalized_difference kernel only", () => {
		raw.normalized_difference(nirPtr, redPtr, outPtr, PIXELS, NODATA, 1, NODATA, 1);
	}),
	measure("typescript NDVI loop", () => {
		typescriptNormalizedDifference(nir, red, typescriptOut);
	}),
	measure(`wasm stripStats (copy-in + ${HISTOGRAM.bins} bins)`, () => {
		kernels.stripStats(wasmOut, HISTOGRAM);
	}),
];

const nameWidth = Math.max(...results.map((result) => result.name.length));
console.log(`${"kernel".padEnd(nameWidth)}  ${"median ms".padStart(10)}  ${"Mpx/s".padStart(8)}`);
for (const { name, median_ms, mpx_per_s } of results) {
	console.log(`${name.padEnd(nameWidth)}  ${median_ms.toFixed(2).padStart(10)}  ${mpx_per_s.toFixed(1).padStart(8)}`);
}
console.log(
	JSON.stringify({
		bench: "kernels",
		node: process.version,
		pixels: PIXELS,
		warmup_runs: WARMUP_RUNS,
		measured_runs: MEASURED_RUNS,
		results,
	}),
);
