/**
 * The overview levels of result.tif as a tree of blocks, each built by its own store invocation.
 * A block is a square of up to OVERVIEW_BLOCK_TILES x OVERVIEW_BLOCK_TILES tiles of one level.
 * Level 1's blocks are read from the windows' 2 x 2 averages (compute writes one per window);
 * every block encodes its tiles and writes its own 2 x 2 average, which the blocks of the next
 * level read. The first level that fits in one block is the top: its one block builds that
 * level and every coarser one in memory, so the small top levels are made in one place.
 *
 * Blocks start on multiples of 512 pixels of their level (even numbers), so every 2 x 2 block
 * of pixels lies in one block and each block's tiles and average are, bit for bit, those of the
 * whole level: the tree gives the file the serial construction gives (test/unit/overviews.test.ts).
 */
import { COG_TILE_SIZE, type CogLevel } from "../../raster/cog-writer";
import type { OutputOptions } from "../../raster/output-type";
import { encodeRasters, encodeTiles, type FloatRaster, halve } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import type { TileEncoder } from "../../wasm/deflate";
import type { JobPlan } from "../plan";
import { forEachConcurrently } from "./reads";

/** Tiles on a block's side: 2 x 2 tiles (1024 x 1024 float32, 4 MiB) per invocation. */
export const OVERVIEW_BLOCK_TILES = 2;

/** R2 reads one block invocation keeps in flight at once. */
const READS_IN_FLIGHT = 4;

/** One level of the tree: its blocks, row-major; the top level has exactly one. */
export interface TreeLevel {
	/** The level's index in cogLevels (1 is the first overview). */
	level: number;
	blocksAcross: number;
	blocksDown: number;
	/** The last tree level: its one block also builds every coarser level. */
	top: boolean;
}

/**
 * The tree of `levels` (as cogLevels gives them): levels 1 up to the first that fits in one block.
 * Empty when the raster has no overviews.
 */
export function overviewTree(levels: readonly CogLevel[], blockTiles = OVERVIEW_BLOCK_TILES): TreeLevel[] {
	const tree: TreeLevel[] = [];
	for (let index = 1; index < levels.length; index++) {
		const level = levels[index] as CogLevel;
		const blocksAcross = Math.ceil(level.tilesAcross / blockTiles);
		const blocksDown = Math.ceil(level.tilesDown / blockTiles);
		const top = blocksAcross === 1 && blocksDown === 1;
		tree.push({ level: index, blocksAcross, blocksDown, top });
		// The coarsest level is one tile, so the loop always ends on a top level.
		if (top) break;
	}
	return tree;
}

/** A rectangle of one level's pixels. */
export interface PixelRegion {
	x: number;
	y: number;
	width: number;
	height: number;
}

/** The pixels of `block` (row-major in its tree level) of level `level`. */
export function blockRegion(
	levels: readonly CogLevel[],
	tree: readonly TreeLevel[],
	level: number,
	block: number,
	blockTiles = OVERVIEW_BLOCK_TILES,
): PixelRegion {
	const treeLevel = tree.find((candidate) => candidate.level === level);
	const size = levels[level];
	if (!treeLevel || !size || !Number.isInteger(block) || block < 0) {
		throw new RangeError(`level ${level} has no overview block ${block}`);
	}
	const span = blockTiles * COG_TILE_SIZE;
	const x = (block % treeLevel.blocksAcross) * span;
	const y = Math.floor(block / treeLevel.blocksAcross) * span;
	if (y >= size.height) throw new RangeError(`level ${level} has no overview block ${block}`);
	return { x, y, width: Math.min(span, size.width - x), height: Math.min(span, size.height - y) };
}

/** The 2 x 2 average of a region, in the next level's pixels (a region starts on even pixels). */
export function halfRegion(region: PixelRegion): PixelRegion {
	return {
		x: region.x / 2,
		y: region.y / 2,
		width: Math.ceil((region.x + region.width) / 2) - region.x / 2,
		height: Math.ceil((region.y + region.height) / 2) - region.y / 2,
	};
}

/** A raw float32 object of `region`'s pixels, row-major: a window's average or a block's. */
interface AverageSource {
	key: string;
	region: PixelRegion;
	what: string;
}

/** The averages level `level` is read from: the windows' for level 1, else the blocks' of the level below. */
function averageSources(
	jobId: string,
	plan: JobPlan,
	levels: readonly CogLevel[],
	tree: readonly TreeLevel[],
	level: number,
	blockTiles: number,
): AverageSource[] {
	if (level === 1) {
		return plan.strips.map((strip) => ({
			key: objectKeys.stripHalf(jobId, strip.index),
			region: halfRegion({
				x: strip.colStart,
				y: strip.rowStart,
				width: strip.colEnd - strip.colStart,
				height: strip.rowEnd - strip.rowStart,
			}),
			what: `the average of window ${strip.index}`,
		}));
	}
	const below = tree.find((candidate) => candidate.level === level - 1);
	if (!below || below.top) throw new RangeError(`level ${level} is not built from blocks`);
	return Array.from({ length: below.blocksAcross * below.blocksDown }, (_, block) => ({
		key: objectKeys.overviewBlockHalf(jobId, level - 1, block),
		region: halfRegion(blockRegion(levels, tree, level - 1, block, blockTiles)),
		what: `the average of level ${level - 1} block ${block}`,
	}));
}

function overlap(a: PixelRegion, b: PixelRegion): PixelRegion | null {
	const x = Math.max(a.x, b.x);
	const y = Math.max(a.y, b.y);
	const width = Math.min(a.x + a.width, b.x + b.width) - x;
	const height = Math.min(a.y + a.height, b.y + b.height) - y;
	return width > 0 && height > 0 ? { x, y, width, height } : null;
}

/**
 * Copies columns [column, column + columns) of `rows` rows of `sourceWidth` float32 values,
 * streamed row-major, into `destination`, whose rows are `width` values long, starting at index
 * `at`. Chunks are copied as they arrive, so the rows are never held twice.
 */
export async function readColumnsInto(
	stream: ReadableStream<Uint8Array>,
	destination: Float32Array,
	{
		at,
		width,
		sourceWidth,
		column,
		columns,
		rows,
	}: { at: number; width: number; sourceWidth: number; column: number; columns: number; rows: number },
): Promise<void> {
	const bytes = new Uint8Array(destination.buffer, destination.byteOffset, destination.byteLength);
	const rowBytes = sourceWidth * 4;
	const first = column * 4;
	const end = (column + columns) * 4;
	const expected = rows * rowBytes;
	let received = 0;
	for await (const chunk of stream) {
		if (received + chunk.byteLength > expected) throw new Error(`more than the ${expected} bytes asked for`);
		for (let offset = 0; offset < chunk.byteLength; ) {
			const row = Math.floor(received / rowBytes);
			const within = received - row * rowBytes;
			const take = Math.min(rowBytes - within, chunk.byteLength - offset);
			const from = Math.max(within, first);
			const to = Math.min(within + take, end);
			if (to > from) {
				bytes.set(chunk.subarray(offset + from - within, offset + to - within), (at + row * width) * 4 + from - first);
			}
			offset += take;
			received += take;
		}
	}
	if (received !== expected) throw new Error(`${received} bytes instead of ${expected}`);
}

/** Fills `region`'s pixels from the averages that cover it, reading only the rows it needs. */
async function readRegion(bucket: R2Bucket, jobId: string, region: PixelRegion, sources: readonly AverageSource[]) {
	const values = new Float32Array(region.width * region.height);
	let covered = 0;
	const reads = sources.flatMap((source) => {
		const shared = overlap(region, source.region);
		return shared ? [{ source, shared }] : [];
	});
	await forEachConcurrently(reads, READS_IN_FLIGHT, async ({ source, shared }) => {
		const rowBytes = source.region.width * 4;
		const object = await bucket.get(source.key, {
			range: { offset: (shared.y - source.region.y) * rowBytes, length: shared.height * rowBytes },
		});
		if (!object) throw new Error(`job ${jobId}: ${source.what} is missing`);
		const size = source.region.height * rowBytes;
		if (object.size !== size) {
			await object.body.cancel();
			throw new Error(`job ${jobId}: ${source.what} has ${object.size} bytes, not ${size}`);
		}
		await readColumnsInto(object.body, values, {
			at: (shared.y - region.y) * region.width + shared.x - region.x,
			width: region.width,
			sourceWidth: source.region.width,
			column: shared.x - source.region.x,
			columns: shared.width,
			rows: shared.height,
		}).catch((error: unknown) => {
			const reason = error instanceof Error ? error.message : String(error);
			throw new Error(`job ${jobId}: reading ${source.what}: ${reason}`, { cause: error });
		});
		covered += shared.width * shared.height;
	});
	// Windows tile the raster and blocks tile their level, so every pixel is read exactly once.
	if (covered !== values.length) {
		throw new Error(`job ${jobId}: the averages cover ${covered} of the ${values.length} pixels of a block`);
	}
	return values;
}

/** What every block of a job's tree shares. */
export interface OverviewJob {
	jobId: string;
	plan: JobPlan;
	levels: readonly CogLevel[];
	tree: readonly TreeLevel[];
	/** The job's output type; float32 as computed when absent. */
	output?: OutputOptions;
}

/**
 * Builds one block of the tree and stores it: its tiles (for the top block, every coarser
 * level's too, coarsest first, as result.tif orders them) and, below the top, its 2 x 2 average.
 * Averages stay float; only the tiles are quantised to the output type, as the windows' are.
 * Returns the byte count of each tile, row-major, per level from the block's own upward.
 */
export async function buildOverviewBlock(
	bucket: R2Bucket,
	{ jobId, plan, levels, tree, output }: OverviewJob,
	level: number,
	block: number,
	tileEncoder: TileEncoder,
	blockTiles = OVERVIEW_BLOCK_TILES,
): Promise<number[][]> {
	const treeLevel = tree.find((candidate) => candidate.level === level);
	if (!treeLevel) throw new RangeError(`level ${level} is not in the overview tree`);
	const region = blockRegion(levels, tree, level, block, blockTiles);
	const sources = averageSources(jobId, plan, levels, tree, level, blockTiles);
	let raster: FloatRaster = {
		values: await readRegion(bucket, jobId, region, sources),
		width: region.width,
		height: region.height,
	};
	if (!treeLevel.top) {
		const { bytes, tileBytes } = encodeTiles(raster, tileEncoder, output);
		await bucket.put(objectKeys.overviewBlockTiles(jobId, level, block), bytes);
		await bucket.put(objectKeys.overviewBlockHalf(jobId, level, block), halve(raster).values);
		return [tileBytes];
	}
	const rasters = [raster];
	for (let index = level + 1; index < levels.length; index++) {
		raster = halve(raster);
		rasters.push(raster);
	}
	// Coarsest first, as result.tif orders them.
	const { bytes, tileBytes } = encodeRasters(rasters.toReversed(), tileEncoder, output);
	await bucket.put(objectKeys.overviewBlockTiles(jobId, level, block), bytes);
	return tileBytes.toReversed();
}

/**
 * Bytes one block invocation holds at most: its float32 pixels, the encoded tiles (as large as
 * the pixels at worst) twice, in the tile encoder's memory and in the copy that stores them, and its average. The top
 * block holds every coarser level's tiles and pixels too (a third more).
 */
export function overviewWorkingSetBytes(blockTiles = OVERVIEW_BLOCK_TILES): number {
	const pixels = (blockTiles * COG_TILE_SIZE) ** 2 * 4;
	const below = pixels + 2 * pixels + pixels / 4;
	const top = pixels + (2 * pixels * 4) / 3 + pixels / 3;
	return Math.ceil(Math.max(below, top));
}
