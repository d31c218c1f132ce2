// Decoding throughput per core under Node, beside GDAL's: the first 1024 rows (16 tiles) of
// 4096 x 4096 UInt16 GeoTIFFs written by GDAL (bench/decode-files.py), 512 x 512 tiles with
// predictor 2, in Deflate, LZW and ZSTD. Read by EO Edge's path (RangedSource, its decoders,
// readWindow, the rows copied into one array), by GDAL through its Python bindings with one
// thread (bench/decode-gdal.py: open, ReadAsArray of the same rows), and by plain geotiff.js
// (fromArrayBuffer + readRasters). Both EO Edge and GDAL read the file from memory.
//
// EO Edge and GDAL are timed in turns (a few reads of one, then of the other, several rounds),
// so a change in the machine's load falls on both; each figure is the median of all its reads,
// after warm-up reads that let V8 compile the Wasm decoders' optimized code. Every EO Edge
// result is checked against geotiff.js's pixels and GDAL's. Prints a table and one JSON line.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { inflateSync } from "node:zlib";
import { fromArrayBuffer, type TypedArray } from "geotiff";
import { nodeCodecs } from "../scripts/node-codecs";
import { wranglerRasterLimits } from "../scripts/wrangler-vars";
import { undoHorizontalDifferencing } from "../src/raster/block-samples";
import { type Codecs, installDecoders } from "../src/raster/decoders";
import { openRangedImage, RangedSource } from "../src/raster/ranged-source";
import { readWindow } from "../src/raster/read";
import { SAMPLE_ARRAYS, type SampleArray } from "../src/raster/samples";

const ROWS = 1024;
const limits = wranglerRasterLimits();
/**
 * Reads before timing: V8 runs Wasm on its baseline compiler until a function has run a while,
 * then compiles optimized code in the background, which a busy machine delays by seconds.
 */
const WARMUP_READS = 20;
const ROUNDS = 5;
const READS_PER_ROUND = 3;
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

/** The arrays reads copy their rows into, one per file, as compute copies into its arena's. */
const destinations = new Map<ArrayBuffer, SampleArray>();

/**
 * The storage's answers to ranged reads, made once per range and handed out again on every
 * read: what the storage costs to answer (R2's buffers, in a Worker) is not the read path's,
 * and on this kind of machine a fresh buffer of megabytes costs more than decoding it (its
 * pages are faulted in anew each time).
 */
const answers = new Map<ArrayBuffer, Map<string, ArrayBuffer>>();
function storageRead(file: ArrayBuffer, offset: number, length: number): ArrayBuffer {
	let ofFile = answers.get(file);
	if (!ofFile) {
		ofFile = new Map();
		answers.set(file, ofFile);
	}
	const key = `${offset}:${length}`;
	let answer = ofFile.get(key);
	if (!answer) {
		answer = file.slice(offset, offset + length);
		ofFile.set(key, answer);
	}
	return answer;
}

/** EO Edge's path: every read a ranged read of the file, through the block cache. */
async function readOurs(file: ArrayBuffer): Promise<SampleArray> {
	const source = new RangedSource({
		size: file.byteLength,
		read: async (offset, length) => storageRead(file, offset, length),
	});
	const { image } = await openRangedImage(source, limits);
	const decoded = await readWindow(image, [1], { rowStart: 0, rowEnd: ROWS, colStart: 0, colEnd: image.getWidth() });
	const [sampleType] = decoded.sampleTypes;
	if (!sampleType) throw new Error("readWindow returned no band");
	let band = destinations.get(file);
	if (!band) {
		band = new SAMPLE_ARRAYS[sampleType](ROWS * image.getWidth());
		destinations.set(file, band);
	}
	decoded.copyBand(0, band);
	decoded.release();
	return band;
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

interface Row {
	compression: Compression;
	eo_edge_mpx_per_s: number;
	gdal_mpx_per_s: number;
	ratio: number;
	geotiff_js_mpx_per_s: number;
	eo_edge_median_ms: number;
	gdal_median_ms: number;
	/** Every timed read, in the order taken (rounds of READS_PER_ROUND, GDAL's first in each). */
	eo_edge_ms: number[];
	gdal_ms: number[];
}
const rows: Row[] = [];
let gdalVersion = "";
for (const name of COMPRESSIONS) {
	installDecoders(codecs);
	const file = fileOf(name);
	const reference = plain.get(name);
	const layout = await gdal.ask({ load: name });
	gdalVersion = String(layout.gdal);
	const gdalPixels = new Uint16Array((await readFile(new URL(`${name}.gdal.raw`, directory))).buffer.slice(0));
	const ours = await readOurs(file);
	if (layout.dtype !== "uint16" || !reference || !sameSamples(reference.pixels, gdalPixels)) {
		throw new Error(`geotiff.js and GDAL decode ${name} differently`);
	}
	if (!sameSamples(ours, gdalPixels)) throw new Error(`EO Edge decodes ${name} differently from GDAL and geotiff.js`);

	await timeReads(() => readOurs(file), WARMUP_READS);
	await gdal.ask({ time: name, runs: 1 });
	const oursMs: number[] = [];
	const gdalMs: number[] = [];
	for (let round = 0; round < ROUNDS; round++) {
		gdalMs.push(...((await gdal.ask({ time: name, runs: READS_PER_ROUND })).ms as number[]));
		oursMs.push(...(await timeReads(() => readOurs(file), READS_PER_ROUND)));
	}
	const pixels = ours.length;
	const eoEdge = mpxPerS(pixels, median(oursMs));
	const gdalRate = mpxPerS(pixels, median(gdalMs));
	rows.push({
		compression: name,
		eo_edge_mpx_per_s: eoEdge,
		gdal_mpx_per_s: gdalRate,
		ratio: Number((eoEdge / gdalRate).toFixed(2)),
		geotiff_js_mpx_per_s: mpxPerS(pixels, reference.ms),
		eo_edge_median_ms: Number(median(oursMs).toFixed(1)),
		gdal_median_ms: Number(median(gdalMs).toFixed(1)),
		eo_edge_ms: oursMs.map((ms) => Number(ms.toFixed(1))),
		gdal_ms: gdalMs.map((ms) => Number(ms.toFixed(1))),
	});
}
gdal.close();

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
const deflate = fileOf("deflate");
if (!sameSamples(await readOurs(deflate), plain.get("deflate")?.pixels ?? [])) {
	throw new Error("EO Edge with node:zlib decodes deflate differently from geotiff.js");
}
await timeReads(() => readOurs(deflate), WARMUP_READS);
const nodeZlibMs = median(await timeReads(() => readOurs(deflate), ROUNDS * READS_PER_ROUND));
const nodeZlibRate = mpxPerS(ROWS * 4096, nodeZlibMs);

const header = ["compression", "EO Edge Mpx/s", "GDAL Mpx/s", "EO Edge / GDAL", "geotiff.js Mpx/s"];
console.log(header.map((title, i) => (i === 0 ? title.padEnd(11) : title.padStart(title.length))).join("  "));
for (const row of rows) {
	const cells = [row.eo_edge_mpx_per_s, row.gdal_mpx_per_s, row.ratio, row.geotiff_js_mpx_per_s];
	console.log(
		[
			row.compression.padEnd(11),
			...cells.map((cell, i) => (i === 2 ? cell.toFixed(2) : cell.toFixed(1)).padStart((header[i + 1] ?? "").length)),
		].join("  "),
	);
}
console.log(`deflate through node:zlib instead of the Wasm inflate: ${nodeZlibRate.toFixed(1)} Mpx/s`);
console.log(
	JSON.stringify({
		bench: "decode",
		node: process.version,
		gdal: gdalVersion,
		image: "4096 x 4096 UInt16, 512 x 512 tiles, predictor 2",
		rows_decoded: ROWS,
		warmup_reads: WARMUP_READS,
		timed_reads: ROUNDS * READS_PER_ROUND,
		results: rows,
		deflate_node_zlib_mpx_per_s: nodeZlibRate,
	}),
);
