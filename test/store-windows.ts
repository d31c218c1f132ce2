/**
 * What compute leaves for store, made directly from a float32 raster: a plan of windows and,
 * per window, its encoded tiles, its 2 x 2 average and its tiles' byte counts. Store's tests
 * start from these instead of running compute, so they can choose the raster's size and content
 * (random values compress poorly, so a few megapixels make a result.tif of several parts); the
 * unit test and the GDAL check also run store's tree and layout on them in memory.
 */
import { type JobPlan, type StripSpan, windowsOf } from "../src/pipeline/plan";
import { blockId, partReads, resultLayout } from "../src/pipeline/store/layout";
import { buildOverviewBlock, overviewTree } from "../src/pipeline/store/overviews";
import { cogLevels } from "../src/raster/cog-writer";
import type { GeoReference } from "../src/raster/georeference";
import type { OutputOptions } from "../src/raster/output-type";
import { encodeTiles, type FloatRaster, halve } from "../src/raster/tiles";
import { objectKeys } from "../src/storage/keys";
import { tileEncoder } from "../src/wasm/index";
import { seededRandom } from "./random";

export function windowOf(raster: FloatRaster, { rowStart, rowEnd, colStart, colEnd }: StripSpan): FloatRaster {
	const width = colEnd - colStart;
	const values = new Float32Array(width * (rowEnd - rowStart));
	for (let row = rowStart; row < rowEnd; row++) {
		const from = row * raster.width + colStart;
		values.set(raster.values.subarray(from, from + width), (row - rowStart) * width);
	}
	return { values, width, height: rowEnd - rowStart };
}

/** Values in [-1, 1) with about one in ten NaN, the same for a seed. */
export function randomRaster(width: number, height: number, seed: number): FloatRaster {
	const random = seededRandom(seed);
	const values = Float32Array.from({ length: width * height }, () => (random() < 0.1 ? Number.NaN : random() * 2 - 1));
	return { values, width, height };
}

/** A window's outputs as compute stores them. */
export interface WindowOutput {
	tiles: Uint8Array<ArrayBuffer>;
	half: Float32Array;
	tileBytes: number[];
}

export function windowOutput(raster: FloatRaster, strip: StripSpan, output?: OutputOptions): WindowOutput {
	const window = windowOf(raster, strip);
	const { bytes, tileBytes } = encodeTiles(window, tileEncoder, output);
	return { tiles: bytes, half: halve(window).values, tileBytes };
}

/** A UTM-like georeference, so the header carries the tags a real result has. */
export const TEST_GEO: GeoReference = {
	modelPixelScale: [10, 10, 0],
	modelTiepoint: [0, 0, 0, 300000, 5000040, 0],
	modelTransformation: null,
	geoKeyDirectory: [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633],
	geoDoubleParams: null,
	geoAsciiParams: null,
};

/** An R2 bucket in memory whose bodies arrive in small chunks that cut across rows. */
export function memoryBucket() {
	const objects = new Map<string, Uint8Array>();
	const bucket = {
		async put(key: string, value: Blob | Uint8Array | Float32Array) {
			const bytes =
				value instanceof Blob
					? new Uint8Array(await value.arrayBuffer())
					: new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
			objects.set(key, bytes);
		},
		async get(key: string, options?: { range?: { offset: number; length: number } }) {
			const bytes = objects.get(key);
			if (!bytes) return null;
			const { offset = 0, length = bytes.length - offset } = options?.range ?? {};
			const range = bytes.subarray(offset, offset + length);
			let at = 0;
			const body = new ReadableStream<Uint8Array>({
				pull(controller) {
					controller.enqueue(range.slice(at, at + 1000));
					at += 1000;
					if (at >= range.length) controller.close();
				},
			});
			return { size: bytes.length, body };
		},
	};
	return { objects, bucket: bucket as unknown as R2Bucket };
}

/**
 * Everything store's invocations would do for `raster`, in one place and in memory: the windows'
 * outputs, every block of the overview tree, the layout and the header; then the file joined
 * from parts of `partBytes` read as the part invocations read them, its samples of `output`.
 */
export async function assembleAsStore(
	raster: FloatRaster,
	{
		geo,
		description,
		rows,
		columns,
		blockTiles,
		partBytes,
		output,
	}: {
		geo: GeoReference;
		description: string;
		rows: number;
		columns: number;
		blockTiles: number;
		partBytes: number;
		output?: OutputOptions;
	},
): Promise<Uint8Array> {
	const { width, height } = raster;
	const strips = windowsOf(width, height, rows, columns);
	const plan = { width, height, geo, strips } as unknown as JobPlan;
	const levels = cogLevels(width, height);
	const { objects, bucket } = memoryBucket();
	const windowTileBytes = new Map<number, number[]>();
	for (const strip of strips) {
		const window = windowOutput(raster, strip, output);
		await bucket.put(objectKeys.stripTiles("job", strip.index), window.tiles);
		await bucket.put(objectKeys.stripHalf("job", strip.index), window.half);
		windowTileBytes.set(strip.index, window.tileBytes);
	}
	const tree = overviewTree(levels, blockTiles);
	const blockTileBytes = new Map<string, number[][]>();
	for (const treeLevel of tree) {
		for (let block = 0; block < treeLevel.blocksAcross * treeLevel.blocksDown; block++) {
			const counts = await buildOverviewBlock(
				bucket,
				{ jobId: "job", plan, levels, tree, output },
				treeLevel.level,
				block,
				tileEncoder,
				blockTiles,
			);
			blockTileBytes.set(blockId(treeLevel.level, block), counts);
		}
	}
	const { header, layout } = resultLayout({
		jobId: "job",
		plan,
		geo,
		description,
		output,
		levels,
		tree,
		windowTileBytes,
		blockTileBytes,
		blockTiles,
	});
	await bucket.put(objectKeys.resultHeader("job"), header);
	const file = new Uint8Array(layout.totalBytes);
	for (let part = 1; (part - 1) * partBytes < layout.totalBytes; part++) {
		for (const read of partReads(layout, partBytes, part)) {
			const source = objects.get(read.key);
			if (!source) throw new Error(`${read.key} was not stored`);
			file.set(source.subarray(read.offset, read.offset + read.length), (part - 1) * partBytes + read.at);
		}
	}
	return file;
}
