// Encoding throughput of result.tif's tiles under Node, per core: 512 x 512 float32 NDVI tiles
// through the Worker's tile encoder (predictor 3 and zlib in Wasm, src/wasm/deflate.ts), and
// their predicted bytes through the other zlib compressors a Worker could use: the runtime's
// CompressionStream (native zlib at its default level 6, which result.tif used before) and
// fflate (pure JS) at levels 1 and 6. Those get the predicted bytes for free, so the Wasm
// encoder's row includes work theirs does not. Tiles/s, MB/s of raw float32 and compressed
// size over raw size. The tiles are a 2048 x 2048 window of the NDVI bench:scene computes: the
// fixtures' red and NIR upsampled to 10980 x 10980 as bench/scene-files.py does (bilinear,
// Gaussian noise of 30 DN, from a fixed seed here), run through the Worker's Wasm evaluator.
// Every compressed tile is inflated (pako) and checked. Prints a table and one JSON line.
import { readFile } from "node:fs/promises";
import { zlibSync } from "fflate";
import { fromArrayBuffer } from "geotiff";
import { inflate } from "pako";
import { compileFormula } from "../src/indices/formula";
import { COG_TILE_SIZE } from "../src/raster/cog-writer";
import { createTileEncoder } from "../src/wasm/deflate";
import { createKernels } from "../src/wasm/kernels";
import { undoFloatingPointPredictor } from "../test/predictor";
import { seededRandom } from "../test/random";

const SCENE_SIDE = 10980;
const WINDOW_SIDE = 2048;
/** The window's top-left corner in the scene: its middle, where the fixtures have fields and water. */
const WINDOW_ORIGIN = 4096;
const NOISE_DN = 30;
const WARMUP_RUNS = 1;
const MEASURED_RUNS = 5;
const TILE_BYTES = COG_TILE_SIZE * COG_TILE_SIZE * 4;

async function wasmModule(name: string): Promise<WebAssembly.Module> {
	return new WebAssembly.Module(await readFile(new URL(`../wasm/build/${name}.wasm`, import.meta.url)));
}

/** Band `name` of the fixtures over the window, upsampled and noised as bench/scene-files.py does. */
async function sceneWindow(name: string, random: () => number): Promise<Uint16Array> {
	const bytes = await readFile(new URL(`../test/fixtures/s2_${name}_256.tif`, import.meta.url));
	const image = await (
		await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
	).getImage();
	const [source] = (await image.readRasters()) as unknown as [Uint16Array];
	const side = image.getWidth();
	// numpy.linspace(0, side - 1, SCENE_SIDE): scene pixel i samples the fixture at x.
	const at = (i: number) => {
		const x = (i * (side - 1)) / (SCENE_SIDE - 1);
		const i0 = Math.floor(x);
		return { i0, i1: Math.min(i0 + 1, side - 1), f: x - i0 };
	};
	const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
	const band = new Uint16Array(WINDOW_SIDE * WINDOW_SIDE);
	for (let y = 0; y < WINDOW_SIDE; y++) {
		const row = at(WINDOW_ORIGIN + y);
		for (let x = 0; x < WINDOW_SIDE; x++) {
			const column = at(WINDOW_ORIGIN + x);
			const sample = (r: number, c: number) => source[r * side + c] as number;
			const top = sample(row.i0, column.i0) * (1 - column.f) + sample(row.i0, column.i1) * column.f;
			const bottom = sample(row.i1, column.i0) * (1 - column.f) + sample(row.i1, column.i1) * column.f;
			const value = top * (1 - row.f) + bottom * row.f + NOISE_DN * gaussian();
			band[y * WINDOW_SIDE + x] = Math.trunc(Math.min(65535, Math.max(1, value)));
		}
	}
	return band;
}

/** The window's NDVI, one 512 x 512 tile per array, as encodeTiles cuts it. */
async function ndviTiles(): Promise<Float32Array[]> {
	const random = seededRandom(1);
	const red = await sceneWindow("red", random);
	const nir = await sceneWindow("nir", random);
	const kernels = createKernels(await wasmModule("kernels"));
	const requested = { red: { scale: 1, offset: 0 }, nir: { scale: 1, offset: 0 } };
	const { program, inputs } = compileFormula({ index: "ndvi", inputs: requested });
	const bands: Record<string, Uint16Array> = { red, nir };
	const arena = kernels.arena({ pixels: WINDOW_SIDE * WINDOW_SIDE, inputs: inputs.map(() => ({ type: "uint16" })) });
	inputs.forEach((name, i) => {
		arena.inputs[i]?.set(bands[name] as Uint16Array);
	});
	const ndvi = arena.evaluate(
		program,
		inputs.map(() => ({ nodata: 0, scale: 1, offset: 0 })),
	);
	const tiles: Float32Array[] = [];
	for (let y0 = 0; y0 < WINDOW_SIDE; y0 += COG_TILE_SIZE) {
		for (let x0 = 0; x0 < WINDOW_SIDE; x0 += COG_TILE_SIZE) {
			const tile = new Float32Array(COG_TILE_SIZE * COG_TILE_SIZE);
			for (let row = 0; row < COG_TILE_SIZE; row++) {
				const from = (y0 + row) * WINDOW_SIDE + x0;
				tile.set(ndvi.subarray(from, from + COG_TILE_SIZE), row * COG_TILE_SIZE);
			}
			tiles.push(tile);
		}
	}
	return tiles;
}

interface Measurement {
	encoder: string;
	median_ms_per_tile: number;
	tiles_per_s: number;
	mb_per_s: number;
	/** Compressed bytes over raw float32 bytes, summed over the tiles. */
	ratio: number;
}

/** Median time over the tiles after warm-up; `encode` returns the compressed size of one tile. */
async function measure<T>(
	encoder: string,
	tiles: T[],
	encode: (tile: T) => Promise<number> | number,
): Promise<Measurement> {
	let compressed = 0;
	const times: number[] = [];
	for (let run = 0; run < WARMUP_RUNS + MEASURED_RUNS; run++) {
		compressed = 0;
		const start = performance.now();
		for (const tile of tiles) {
			compressed += await encode(tile);
		}
		if (run >= WARMUP_RUNS) times.push(performance.now() - start);
	}
	times.sort((a, b) => a - b);
	const perTileMs = (times[Math.floor(times.length / 2)] ?? Number.NaN) / tiles.length;
	return {
		encoder,
		median_ms_per_tile: Number(perTileMs.toFixed(3)),
		tiles_per_s: Number((1000 / perTileMs).toFixed(1)),
		mb_per_s: Number((TILE_BYTES / 1e6 / (perTileMs / 1000)).toFixed(1)),
		ratio: Number((compressed / (TILE_BYTES * tiles.length)).toFixed(4)),
	};
}

/** zlib by the runtime's CompressionStream, as result.tif's tiles were compressed before. */
async function compressionStream(bytes: Uint8Array): Promise<Uint8Array> {
	const compressed = new Response(
		new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate")),
	);
	return new Uint8Array(await compressed.arrayBuffer());
}

const tiles = await ndviTiles();
const encoder = createTileEncoder(await wasmModule("deflate"));
/** One tile's stream, as the encoder keeps it and a window's copy out hands it over. */
function encodeTile(tile: Float32Array): Uint8Array {
	encoder.add({ values: tile, width: COG_TILE_SIZE, height: COG_TILE_SIZE }, 0, 0, COG_TILE_SIZE, COG_TILE_SIZE);
	return encoder.take();
}
/** Each tile's predicted bytes, from the Wasm encoder's stream; checked against the TIFF predictor's inverse. */
const predictedBytes = tiles.map((tile) => {
	const predicted = inflate(encodeTile(tile));
	const restored = new Uint32Array(undoFloatingPointPredictor(predicted, COG_TILE_SIZE, COG_TILE_SIZE).buffer);
	const bits = new Uint32Array(tile.buffer, tile.byteOffset, tile.length);
	if (!restored.every((word, i) => word === bits[i])) {
		throw new Error("the Wasm encoder's stream does not restore the tile through the predictor's inverse");
	}
	return predicted;
});

const results: Measurement[] = [
	await measure("Wasm: predictor 3 + zlib, runs and dynamic Huffman (adopted)", tiles, (tile) => {
		return encodeTile(tile).byteLength;
	}),
];
const compressors: { name: string; compress: (bytes: Uint8Array) => Promise<Uint8Array> | Uint8Array }[] = [
	{ name: "CompressionStream, zlib level 6 (before)", compress: compressionStream },
	...([1, 6] as const).map((level) => ({
		name: `fflate level ${level}`,
		compress: (bytes: Uint8Array) => zlibSync(bytes, { level }),
	})),
];
for (const { name, compress } of compressors) {
	for (const predicted of predictedBytes) {
		const inflated = inflate(await compress(predicted));
		if (!inflated.every((byte, i) => byte === predicted[i])) throw new Error(`${name}: a tile does not round-trip`);
	}
	results.push(
		await measure(
			`${name}, on predicted bytes`,
			predictedBytes,
			async (predicted) => (await compress(predicted)).byteLength,
		),
	);
}

console.log(
	`\n${tiles.length} NDVI tiles of ${COG_TILE_SIZE} x ${COG_TILE_SIZE} float32 (${TILE_BYTES / 1024} KiB raw each), median of ${MEASURED_RUNS} runs\n`,
);
console.log("| encoder | ms per tile | tiles/s | MB/s (raw) | compressed / raw |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const result of results) {
	console.log(
		`| ${result.encoder} | ${result.median_ms_per_tile} | ${result.tiles_per_s} | ${result.mb_per_s} | ${result.ratio} |`,
	);
}
console.log(JSON.stringify({ bench: "encode", tiles: tiles.length, results }));
