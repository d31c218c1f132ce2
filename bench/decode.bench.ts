// Decoding throughput per core under Node: tiles of 4096 x 4096 UInt16 GeoTIFFs written by
// GDAL (bench/decode-files.py) in Deflate, LZW and ZSTD, decoded by plain geotiff.js
// (fromArrayBuffer + readRasters) and by EO Edge's read path (RangedSource + its decoders +
// readWindow), same files, same run. Every result is checked against geotiff.js's pixels.
// Prints a table and one JSON line.
import { execFileSync } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { fromArrayBuffer, type TypedArray } from "geotiff";
import { inflate } from "pako";
import { wranglerRasterLimits } from "../scripts/wrangler-vars";
import { type Codecs, installDecoders } from "../src/raster/decoders";
import { inflateNative } from "../src/raster/inflate";
import { openRangedImage, RangedSource } from "../src/raster/ranged-source";
import { readWindow } from "../src/raster/read";
import { SAMPLE_ARRAYS } from "../src/raster/samples";
import { createZstdDecode } from "../src/wasm/zstd";

const ROWS = 1024;
const limits = wranglerRasterLimits();
const WARMUP_RUNS = 1;
const MEASURED_RUNS = 3;
const COMPRESSIONS = ["deflate", "lzw", "zstd"] as const;
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

const files = new Map<string, ArrayBuffer>();
for (const name of COMPRESSIONS) {
	const bytes = await readFile(new URL(`${name}.tif`, directory));
	files.set(name, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

interface Measurement {
	compression: string;
	reader: string;
	median_ms: number;
	mpx_per_s: number;
}

/** Median wall time of decoding the first ROWS rows, after warm-up. */
async function measure(compression: string, reader: string, read: () => Promise<TypedArray>): Promise<Measurement> {
	for (let i = 0; i < WARMUP_RUNS; i++) await read();
	const times: number[] = [];
	for (let i = 0; i < MEASURED_RUNS; i++) {
		const start = performance.now();
		await read();
		times.push(performance.now() - start);
	}
	times.sort((a, b) => a - b);
	const medianMs = times[Math.floor(times.length / 2)] ?? Number.NaN;
	const pixels = (await read()).length;
	return {
		compression,
		reader,
		median_ms: Number(medianMs.toFixed(1)),
		mpx_per_s: Number((pixels / 1e6 / (medianMs / 1000)).toFixed(1)),
	};
}

async function readPlain(file: ArrayBuffer): Promise<TypedArray> {
	const image = await (await fromArrayBuffer(file)).getImage();
	const [band] = await image.readRasters({ window: [0, 0, image.getWidth(), ROWS], interleave: false });
	if (!band || typeof band === "number") throw new Error("geotiff.js returned no band");
	return band;
}

/** EO Edge's path: every read a ranged read of the file, through the block cache. */
async function readOurs(file: ArrayBuffer): Promise<TypedArray> {
	const source = new RangedSource({
		size: file.byteLength,
		read: async (offset, length) => file.slice(offset, offset + length),
	});
	const { image } = await openRangedImage(source, limits);
	const decoded = await readWindow(image, [1], { rowStart: 0, rowEnd: ROWS, colStart: 0, colEnd: image.getWidth() });
	const [sampleType] = decoded.sampleTypes;
	if (!sampleType) throw new Error("readWindow returned no band");
	const band = new SAMPLE_ARRAYS[sampleType](ROWS * image.getWidth());
	decoded.copyBand(0, band);
	return band;
}

const results: Measurement[] = [];
const reference = new Map<string, TypedArray>();
// geotiff.js's decoders are measured first: installing EO Edge's replaces them for good.
for (const name of COMPRESSIONS) {
	const file = files.get(name) as ArrayBuffer;
	reference.set(name, await readPlain(file));
	results.push(await measure(name, "geotiff.js 3.0.5", () => readPlain(file)));
}

const zstd = createZstdDecode(
	await WebAssembly.compile(await readFile(new URL("../wasm/build/zstd.wasm", import.meta.url))),
);
/** The inflate EO Edge used before node:zlib, kept here as the comparison. */
async function inflateThroughStream(input: Uint8Array): Promise<Uint8Array> {
	const stream = new Blob([input as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

const variants: [string, Codecs][] = [
	["EO Edge", { inflate: inflateNative, zstd }],
	["EO Edge, DecompressionStream for node:zlib", { inflate: inflateThroughStream, zstd }],
	["EO Edge, pako for node:zlib", { inflate: (input) => inflate(input), zstd }],
];
for (const [reader, codecs] of variants) {
	await installDecoders(codecs);
	for (const name of COMPRESSIONS) {
		if (name !== "deflate" && reader !== variants[0]?.[0]) continue;
		const file = files.get(name) as ArrayBuffer;
		const ours = await readOurs(file);
		const expected = reference.get(name);
		if (!expected || ours.length !== expected.length || ours.some((value, i) => value !== expected[i])) {
			throw new Error(`${reader} decodes ${name} differently from geotiff.js`);
		}
		results.push(await measure(name, reader, () => readOurs(file)));
	}
}

const readerWidth = Math.max(...results.map((result) => result.reader.length));
console.log(
	`${"compression".padEnd(11)}  ${"reader".padEnd(readerWidth)}  ${"median ms".padStart(9)}  ${"Mpx/s".padStart(7)}`,
);
for (const { compression, reader, median_ms, mpx_per_s } of results) {
	console.log(
		`${compression.padEnd(11)}  ${reader.padEnd(readerWidth)}  ${median_ms.toFixed(1).padStart(9)}  ${mpx_per_s.toFixed(1).padStart(7)}`,
	);
}
console.log(
	JSON.stringify({
		bench: "decode",
		node: process.version,
		image: "4096 x 4096 UInt16, 512 x 512 tiles, predictor 2",
		rows_decoded: ROWS,
		warmup_runs: WARMUP_RUNS,
		measured_runs: MEASURED_RUNS,
		results,
	}),
);
