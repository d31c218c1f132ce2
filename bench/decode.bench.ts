// Decoding throughput per core, beside GDAL's: the first 1024 rows (16 tiles) of 4096 x 4096
// UInt16 GeoTIFFs written by GDAL (bench/decode-files.py), 512 x 512 tiles with predictor 2, in
// Deflate, LZW and ZSTD. Read by EO Edge's path (bench/decode-read.ts: RangedSource, its
// decoders, readWindow, the rows copied into one array) under Node and in workerd, the Workers
// runtime (bench/decode-worker.ts under wrangler's local runtime, timed from outside since
// workerd's clock stands still while a Worker runs); by GDAL through its Python bindings with one
// thread (bench/decode-gdal.py: open, ReadAsArray of the same rows); and by plain geotiff.js
// (fromArrayBuffer + readRasters). EO Edge and GDAL read the file from memory.
//
// EO Edge and GDAL are timed in turns (a few reads by GDAL, by EO Edge under Node, then in
// workerd, several rounds), so a change in the machine's load falls on all; each figure is the
// median of all its reads, after warm-up reads that let V8 compile the Wasm decoders' optimized
// code. Every EO Edge result is checked against geotiff.js's pixels and GDAL's. Prints a table
// and one JSON line.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { inflateSync } from "node:zlib";
import { fromArrayBuffer, type TypedArray } from "geotiff";
import { parse, stringify } from "smol-toml";
import { freePort, startWorkerDevServer, stopChildrenOnExit, stopGroup, waitForHealth } from "../scripts/dev-server";
import { nodeCodecs } from "../scripts/node-codecs";
import { wranglerRasterLimits, wranglerVars } from "../scripts/wrangler-vars";
import { undoHorizontalDifferencing } from "../src/raster/block-samples";
import { type Codecs, installDecoders } from "../src/raster/decoders";
import type { SampleArray } from "../src/raster/samples";
import { windowReader } from "./decode-read";

const ROWS = 1024;
const limits = wranglerRasterLimits();
/**
 * Reads before timing: V8 runs Wasm on its baseline compiler until a function has run a while,
 * then compiles optimized code in the background, which a busy machine delays by seconds.
 */
const WARMUP_READS = 20;
const ROUNDS = 5;
const READS_PER_ROUND = 3;
/**
 * Reads in one timed request to workerd, beside a request of one read: the difference over this
 * many reads is one sample of a read's time (what a request costs besides its reads cancels).
 */
const WORKERD_READS_PER_SAMPLE = 6;
/** How bench/decode-worker.ts decodes ZSTD blocks: zstd's Wasm, as the Worker does, or the runtime's zstd. */
type ZstdDecoding = "wasm" | "runtime";
/** geotiff.js alone takes seconds per LZW read: a few reads are enough to show where it stands. */
const BASELINE_READS = 3;
const COMPRESSIONS = ["deflate", "lzw", "zstd"] as const;
type Compression = (typeof COMPRESSIONS)[number];
const directory = new URL("../artifacts/bench-decode/", import.meta.url);

await mkdir(directory, { recursive: true });
try {
	execFileSync("/usr/bin/python3", [new URL("decode-files.py", import.meta.url).pathname, directory.pathname], {
		stdio: "inherit",
	});
} catch (error) {
	throw new Error("bench:decode needs GDAL's Python bindings (Debian: python3-gdal) to write its inputs", {
		cause: error,
	});
}

const files = new Map<Compression, ArrayBuffer>();
for (const name of COMPRESSIONS) {
	const bytes = await readFile(new URL(`${name}.tif`, directory));
	files.set(name, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
const fileOf = (name: Compression) => files.get(name) as ArrayBuffer;

/** GDAL in a child process that answers one JSON line per command (bench/decode-gdal.py). */
function startGdal(): { ask(command: object): Promise<Record<string, unknown>>; close(): void } {
	const child: ChildProcessWithoutNullStreams = spawn(
		"/usr/bin/python3",
		[new URL("decode-gdal.py", import.meta.url).pathname, directory.pathname, String(ROWS)],
		{ env: { ...process.env, GDAL_NUM_THREADS: "1" } },
	);
	child.stderr.pipe(process.stderr);
	const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
	return {
		async ask(command) {
			child.stdin.write(`${JSON.stringify(command)}\n`);
			const { value, done } = await lines.next();
			if (done) throw new Error("GDAL's timing script ended early (see its error above)");
			return JSON.parse(value) as Record<string, unknown>;
		},
		close() {
			child.stdin.end();
		},
	};
}

function median(times: readonly number[]): number {
	const sorted = [...times].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timeReads(read: () => Promise<unknown>, reads: number): Promise<number[]> {
	const times: number[] = [];
	for (let i = 0; i < reads; i++) {
		const start = performance.now();
		await read();
		times.push(performance.now() - start);
	}
	return times;
}

async function readPlain(file: ArrayBuffer): Promise<TypedArray> {
	const image = await (await fromArrayBuffer(file)).getImage();
	const [band] = await image.readRasters({ window: [0, 0, image.getWidth(), ROWS], interleave: false });
	if (!band || typeof band === "number") throw new Error("geotiff.js returned no band");
	return band;
}

/** EO Edge's read under Node, one reader per file (bench/decode-read.ts). */
const nodeReaders = new Map(COMPRESSIONS.map((name) => [name, windowReader(fileOf(name), ROWS, limits)]));
function readOurs(name: Compression): Promise<SampleArray> {
	const read = nodeReaders.get(name);
	if (!read) throw new Error(`no reader for ${name}`);
	return read();
}

/**
 * bench/decode-worker.ts in workerd, run by `wrangler dev` in a process of its own (so that its
 * dev server's work does not fall on this process's timings), with wrangler.toml's compatibility
 * settings and vars.
 */
async function startWorkerd() {
	const worker = parse(readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8")) as Record<string, unknown>;
	const config = new URL("worker.toml", directory).pathname;
	writeFileSync(
		config,
		stringify({
			name: "eo-edge-bench-decode",
			main: new URL("decode-worker.ts", import.meta.url).pathname,
			compatibility_date: worker.compatibility_date,
			compatibility_flags: worker.compatibility_flags,
			send_metrics: false,
			vars: wranglerVars(),
		}),
	);
	const port = await freePort();
	const origin = `http://127.0.0.1:${port}`;
	const server = startWorkerDevServer(config, port);
	try {
		await waitForHealth(server, origin);
	} catch (error) {
		throw new Error(
			`wrangler dev did not serve bench/decode-worker.ts; its output ends:\n${server.log().slice(-4000)}`,
			{
				cause: error,
			},
		);
	}
	const ask = async (path: string, init?: RequestInit): Promise<ArrayBuffer> => {
		const response = await fetch(`${origin}${path}`, init);
		const body = await response.arrayBuffer();
		if (!response.ok)
			throw new Error(`workerd answered ${response.status} to ${path}: ${new TextDecoder().decode(body)}`);
		return body;
	};
	const timed = async (path: string): Promise<number> => {
		const start = performance.now();
		await ask(path);
		return performance.now() - start;
	};
	return {
		async upload(name: Compression): Promise<void> {
			await ask(`/files/${name}?rows=${ROWS}`, { method: "PUT", body: fileOf(name) });
		},
		async pixels(name: Compression, zstd: ZstdDecoding): Promise<Uint16Array> {
			return new Uint16Array(await ask(`/pixels/${name}?zstd=${zstd}`));
		},
		async warmUp(name: Compression, zstd: ZstdDecoding): Promise<void> {
			await ask(`/reads/${name}?zstd=${zstd}&n=${WARMUP_READS}`);
		},
		/**
		 * Samples of one read's time, each over WORKERD_READS_PER_SAMPLE reads: two, the request of
		 * one read timed first in one and last in the other, so that what the first request after
		 * the other readers' turn costs (waking the process) falls on both sides alike.
		 */
		async readMs(name: Compression, zstd: ZstdDecoding): Promise<number[]> {
			const one = () => timed(`/reads/${name}?zstd=${zstd}&n=1`);
			const many = () => timed(`/reads/${name}?zstd=${zstd}&n=${1 + WORKERD_READS_PER_SAMPLE}`);
			const oneBefore = await one();
			const manyAfter = await many();
			const manyBefore = await many();
			const oneAfter = await one();
			return [(manyAfter - oneBefore) / WORKERD_READS_PER_SAMPLE, (manyBefore - oneAfter) / WORKERD_READS_PER_SAMPLE];
		},
		stop: () => stopGroup(server.pid),
	};
}

function sameSamples(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

const mpxPerS = (pixels: number, ms: number) => Number((pixels / 1e6 / (ms / 1000)).toFixed(1));

// geotiff.js's own decoders are measured first: installing EO Edge's replaces them for good.
const plain = new Map<Compression, { pixels: TypedArray; ms: number }>();
for (const name of COMPRESSIONS) {
	const pixels = await readPlain(fileOf(name));
	plain.set(name, { pixels, ms: median(await timeReads(() => readPlain(fileOf(name)), BASELINE_READS)) });
}

const gdal = startGdal();
const codecs = await nodeCodecs();
stopChildrenOnExit();
const workerd = await startWorkerd();

interface Row {
	compression: Compression;
	/** EO Edge under Node. */
	eo_edge_mpx_per_s: number;
	/** EO Edge in workerd. */
	workerd_mpx_per_s: number;
	gdal_mpx_per_s: number;
	/** Under Node, to GDAL. */
	ratio: number;
	workerd_ratio: number;
	geotiff_js_mpx_per_s: number;
	eo_edge_median_ms: number;
	workerd_median_ms: number;
	gdal_median_ms: number;
	/** Every timed read, in the order taken (rounds of READS_PER_ROUND, GDAL's first in each). */
	eo_edge_ms: number[];
	/** Two samples a round (bench/decode.bench.ts's readMs), each over WORKERD_READS_PER_SAMPLE reads. */
	workerd_ms: number[];
	gdal_ms: number[];
}
const rows: Row[] = [];
/** The ZSTD file read in workerd through the runtime's zstd, timed in the same rounds. */
let runtimeZstd: { mpx_per_s: number; ratio: number; median_ms: number; ms: number[] } | null = null;
let gdalVersion = "";
const round1 = (ms: number) => Number(ms.toFixed(1));
for (const name of COMPRESSIONS) {
	installDecoders(codecs);
	await workerd.upload(name);
	const reference = plain.get(name);
	const layout = await gdal.ask({ load: name });
	gdalVersion = String(layout.gdal);
	const gdalPixels = new Uint16Array((await readFile(new URL(`${name}.gdal.raw`, directory))).buffer.slice(0));
	if (layout.dtype !== "uint16" || !reference || !sameSamples(reference.pixels, gdalPixels)) {
		throw new Error(`geotiff.js and GDAL decode ${name} differently`);
	}
	const ours = await readOurs(name);
	if (!sameSamples(ours, gdalPixels)) throw new Error(`EO Edge decodes ${name} differently from GDAL and geotiff.js`);
	if (!sameSamples(await workerd.pixels(name, "wasm"), gdalPixels)) {
		throw new Error(`EO Edge in workerd decodes ${name} differently from GDAL`);
	}
	const withRuntimeZstd = name === "zstd";
	if (withRuntimeZstd && !sameSamples(await workerd.pixels(name, "runtime"), gdalPixels)) {
		throw new Error("EO Edge in workerd with the runtime's zstd decodes zstd differently from GDAL");
	}

	await timeReads(() => readOurs(name), WARMUP_READS);
	await workerd.warmUp(name, "wasm");
	if (withRuntimeZstd) await workerd.warmUp(name, "runtime");
	await gdal.ask({ time: name, runs: 1 });
	const oursMs: number[] = [];
	const workerdMs: number[] = [];
	const runtimeZstdMs: number[] = [];
	const gdalMs: number[] = [];
	for (let round = 0; round < ROUNDS; round++) {
		gdalMs.push(...((await gdal.ask({ time: name, runs: READS_PER_ROUND })).ms as number[]));
		oursMs.push(...(await timeReads(() => readOurs(name), READS_PER_ROUND)));
		workerdMs.push(...(await workerd.readMs(name, "wasm")));
		if (withRuntimeZstd) runtimeZstdMs.push(...(await workerd.readMs(name, "runtime")));
	}
	const pixels = ours.length;
	const eoEdge = mpxPerS(pixels, median(oursMs));
	const inWorkerd = mpxPerS(pixels, median(workerdMs));
	const gdalRate = mpxPerS(pixels, median(gdalMs));
	rows.push({
		compression: name,
		eo_edge_mpx_per_s: eoEdge,
		workerd_mpx_per_s: inWorkerd,
		gdal_mpx_per_s: gdalRate,
		ratio: Number((eoEdge / gdalRate).toFixed(2)),
		workerd_ratio: Number((inWorkerd / gdalRate).toFixed(2)),
		geotiff_js_mpx_per_s: mpxPerS(pixels, reference.ms),
		eo_edge_median_ms: round1(median(oursMs)),
		workerd_median_ms: round1(median(workerdMs)),
		gdal_median_ms: round1(median(gdalMs)),
		eo_edge_ms: oursMs.map(round1),
		workerd_ms: workerdMs.map(round1),
		gdal_ms: gdalMs.map(round1),
	});
	if (withRuntimeZstd) {
		const rate = mpxPerS(pixels, median(runtimeZstdMs));
		runtimeZstd = {
			mpx_per_s: rate,
			ratio: Number((rate / gdalRate).toFixed(2)),
			median_ms: round1(median(runtimeZstdMs)),
			ms: runtimeZstdMs.map(round1),
		};
	}
}
gdal.close();
await workerd.stop();

// The runtime's own zlib (node:zlib, what EO Edge used before its Wasm inflate), for comparison,
// with predictor 2 undone in TypeScript as it was then.
const nodeZlib: Codecs = {
	...codecs,
	inflate(input, maxBytes, differencing) {
		const output = inflateSync(input, { maxOutputLength: maxBytes });
		const bytes = new Uint8Array(output.buffer.slice(output.byteOffset, output.byteOffset + output.byteLength));
		if (differencing) undoHorizontalDifferencing(bytes.buffer, differencing);
		return { bytes: () => bytes, free() {} };
	},
};
installDecoders(nodeZlib);
if (!sameSamples(await readOurs("deflate"), plain.get("deflate")?.pixels ?? [])) {
	throw new Error("EO Edge with node:zlib decodes deflate differently from geotiff.js");
}
await timeReads(() => readOurs("deflate"), WARMUP_READS);
const nodeZlibMs = median(await timeReads(() => readOurs("deflate"), ROUNDS * READS_PER_ROUND));
const nodeZlibRate = mpxPerS(ROWS * 4096, nodeZlibMs);

const header = [
	"compression",
	"Node Mpx/s",
	"workerd Mpx/s",
	"GDAL Mpx/s",
	"Node / GDAL",
	"workerd / GDAL",
	"geotiff.js Mpx/s",
];
console.log(header.map((title, i) => (i === 0 ? title.padEnd(11) : title.padStart(title.length))).join("  "));
for (const row of rows) {
	const cells = [
		row.eo_edge_mpx_per_s.toFixed(1),
		row.workerd_mpx_per_s.toFixed(1),
		row.gdal_mpx_per_s.toFixed(1),
		row.ratio.toFixed(2),
		row.workerd_ratio.toFixed(2),
		row.geotiff_js_mpx_per_s.toFixed(1),
	];
	console.log(
		[row.compression.padEnd(11), ...cells.map((cell, i) => cell.padStart((header[i + 1] ?? "").length))].join("  "),
	);
}
console.log("EO Edge under Node and in workerd (wrangler's local runtime), each beside GDAL in the same rounds");
if (runtimeZstd) {
	console.log(
		`zstd in workerd through the runtime's zstd (node:zlib) instead of zstd's Wasm: ${runtimeZstd.mpx_per_s.toFixed(1)} Mpx/s, ${runtimeZstd.ratio.toFixed(2)}x GDAL`,
	);
}
console.log(`deflate under Node through node:zlib instead of the Wasm inflate: ${nodeZlibRate.toFixed(1)} Mpx/s`);
console.log(
	JSON.stringify({
		bench: "decode",
		node: process.version,
		gdal: gdalVersion,
		image: "4096 x 4096 UInt16, 512 x 512 tiles, predictor 2",
		rows_decoded: ROWS,
		warmup_reads: WARMUP_READS,
		timed_reads: ROUNDS * READS_PER_ROUND,
		workerd_reads_per_sample: WORKERD_READS_PER_SAMPLE,
		results: rows,
		zstd_runtime_in_workerd: runtimeZstd,
		deflate_node_zlib_mpx_per_s: nodeZlibRate,
	}),
);
