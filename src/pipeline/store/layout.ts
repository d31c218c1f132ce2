/**
 * result.tif's layout once every tile is encoded: its header (cogHeader, from every tile's byte
 * count) and, in file order, the byte ranges of the objects the file is made of: the header,
 * the top overview block (every coarse level, coarsest first), the other overview levels'
 * blocks and the windows' full-resolution tiles, each level row-major. Any part of the file can
 * then be read from those objects by whichever invocation uploads it.
 */
import { COG_TILE_SIZE, type CogLevel, cogHeader } from "../../raster/cog-writer";
import type { GeoReference } from "../../raster/georeference";
import type { OutputOptions } from "../../raster/output-type";
import { objectKeys } from "../../storage/keys";
import type { JobPlan } from "../plan";
import { blockRegion, type TreeLevel } from "./overviews";

/** The ranges result.tif is read from, in file order; what the part invocations share (as JSON). */
export interface ResultLayout {
	totalBytes: number;
	keys: string[];
	/** [index in keys, offset in the object, length]. */
	segments: [number, number, number][];
}

/** A rectangle of one level's tiles stored as one object, its tiles row-major. */
interface TiledObject {
	key: string;
	tileX: number;
	tileY: number;
	tilesAcross: number;
	tilesDown: number;
	tileBytes: readonly number[];
	what: string;
}

interface Run {
	key: string;
	offset: number;
	length: number;
}

/**
 * One level's tiles in file order (row-major over the level), from the objects that tile it:
 * their byte counts, and the runs of each object's consecutive tiles that give that order.
 */
function levelInFileOrder(level: CogLevel, objects: readonly TiledObject[]): { counts: number[]; runs: Run[] } {
	const counts: number[] = [];
	const runs: Run[] = [];
	const bands = [...Map.groupBy(objects, (object) => object.tileY)].sort(([a], [b]) => a - b);
	for (const [tileY, band] of bands) {
		const sorted = band.toSorted((a, b) => a.tileX - b.tileX);
		const down = sorted[0]?.tilesDown ?? 0;
		// Where each object's tile rows start within it.
		const rowOffsets = sorted.map((object) => {
			if (object.tileBytes.length !== object.tilesAcross * object.tilesDown) {
				throw new Error(
					`${object.what} has ${object.tileBytes.length} tiles, not ${object.tilesAcross * object.tilesDown}`,
				);
			}
			if (object.tilesDown !== down) throw new Error(`${object.what} is not as tall as its band`);
			const offsets = [0];
			for (let row = 0; row < object.tilesDown; row++) {
				let sum = offsets[row] as number;
				for (let i = row * object.tilesAcross; i < (row + 1) * object.tilesAcross; i++) sum += object.tileBytes[i] ?? 0;
				offsets.push(sum);
			}
			return offsets;
		});
		for (let row = 0; row < down; row++) {
			let tileX = 0;
			sorted.forEach((object, index) => {
				if (object.tileX !== tileX) throw new Error(`${object.what} starts at tile ${object.tileX}, not ${tileX}`);
				tileX += object.tilesAcross;
				const offsets = rowOffsets[index] as number[];
				const offset = offsets[row] as number;
				counts.push(...object.tileBytes.slice(row * object.tilesAcross, (row + 1) * object.tilesAcross));
				runs.push({ key: object.key, offset, length: (offsets[row + 1] as number) - offset });
			});
			if (tileX !== level.tilesAcross)
				throw new Error(`tile row ${tileY + row} has ${tileX} of ${level.tilesAcross} tiles`);
		}
		if (counts.length !== (tileY + down) * level.tilesAcross)
			throw new Error(`tile row ${tileY} is not where it belongs`);
	}
	if (counts.length !== level.tilesAcross * level.tilesDown) {
		throw new Error(`the level has ${counts.length} of its ${level.tilesAcross * level.tilesDown} tiles`);
	}
	return { counts, runs };
}

export interface LayoutInputs {
	jobId: string;
	plan: JobPlan;
	geo: GeoReference;
	description: string | undefined;
	/** The job's output type, which the header declares; float32 as computed when absent. */
	output?: OutputOptions;
	levels: readonly CogLevel[];
	tree: readonly TreeLevel[];
	/** Each window's tile byte counts, row-major within the window, by window index. */
	windowTileBytes: ReadonlyMap<number, readonly number[]>;
	/** Each overview block's tile byte counts per level it built, by `${level}/${block}`. */
	blockTileBytes: ReadonlyMap<string, readonly (readonly number[])[]>;
	/** The tree's block size, for tests; OVERVIEW_BLOCK_TILES otherwise. */
	blockTiles?: number;
}

export const blockId = (level: number, block: number) => `${level}/${block}`;

/** The header of result.tif and where each of its bytes comes from. */
export function resultLayout(inputs: LayoutInputs): { header: Uint8Array; layout: ResultLayout } {
	const { jobId, plan, levels, tree } = inputs;
	const level0 = levelInFileOrder(
		levels[0] as CogLevel,
		plan.strips.map((strip) => {
			const tileBytes = inputs.windowTileBytes.get(strip.index);
			if (!tileBytes) throw new Error(`job ${jobId}: window ${strip.index} has no tiles recorded`);
			return {
				key: objectKeys.stripTiles(jobId, strip.index),
				tileX: strip.colStart / COG_TILE_SIZE,
				tileY: strip.rowStart / COG_TILE_SIZE,
				tilesAcross: Math.ceil((strip.colEnd - strip.colStart) / COG_TILE_SIZE),
				tilesDown: Math.ceil((strip.rowEnd - strip.rowStart) / COG_TILE_SIZE),
				tileBytes,
				what: `job ${jobId}: window ${strip.index}`,
			};
		}),
	);
	const counts: number[][] = [level0.counts];
	const overviewRuns: Run[][] = [];
	for (const treeLevel of tree) {
		const blocks = treeLevel.blocksAcross * treeLevel.blocksDown;
		const recorded = (block: number) => {
			const tileBytes = inputs.blockTileBytes.get(blockId(treeLevel.level, block));
			if (!tileBytes) throw new Error(`job ${jobId}: level ${treeLevel.level} block ${block} has no tiles recorded`);
			return tileBytes;
		};
		const key = (block: number) => objectKeys.overviewBlockTiles(jobId, treeLevel.level, block);
		if (treeLevel.top) {
			const perLevel = recorded(0);
			if (perLevel.length !== levels.length - treeLevel.level) {
				throw new Error(`job ${jobId}: the top block recorded ${perLevel.length} levels`);
			}
			counts.push(...perLevel.map((levelCounts) => [...levelCounts]));
			const length = perLevel.flat().reduce((sum, count) => sum + count, 0);
			overviewRuns.push([{ key: key(0), offset: 0, length }]);
			continue;
		}
		const { counts: levelCounts, runs } = levelInFileOrder(
			levels[treeLevel.level] as CogLevel,
			Array.from({ length: blocks }, (_, block) => {
				const region = blockRegion(levels, tree, treeLevel.level, block, inputs.blockTiles);
				const [tileBytes = []] = recorded(block);
				return {
					key: key(block),
					tileX: region.x / COG_TILE_SIZE,
					tileY: region.y / COG_TILE_SIZE,
					tilesAcross: Math.ceil(region.width / COG_TILE_SIZE),
					tilesDown: Math.ceil(region.height / COG_TILE_SIZE),
					tileBytes,
					what: `job ${jobId}: level ${treeLevel.level} block ${block}`,
				};
			}),
		);
		counts.push(levelCounts);
		overviewRuns.push(runs);
	}
	const { header, totalBytes } = cogHeader(
		{
			width: plan.width,
			height: plan.height,
			geo: inputs.geo,
			description: inputs.description,
			output: inputs.output,
		},
		counts,
	);
	// File order: the header, the coarsest levels (the top block) first, full resolution last.
	const runs = [
		{ key: objectKeys.resultHeader(jobId), offset: 0, length: header.byteLength },
		...overviewRuns.toReversed().flat(),
		...level0.runs,
	];
	const keys: string[] = [];
	const keyIndex = new Map<string, number>();
	const segments: [number, number, number][] = [];
	for (const run of runs) {
		if (run.length === 0) continue;
		let index = keyIndex.get(run.key);
		if (index === undefined) {
			index = keys.push(run.key) - 1;
			keyIndex.set(run.key, index);
		}
		const last = segments.at(-1);
		// A run that goes on where the previous one of the same object ended is read with it.
		if (last && last[0] === index && last[1] + last[2] === run.offset) last[2] += run.length;
		else segments.push([index, run.offset, run.length]);
	}
	const laidOut = segments.reduce((sum, [, , length]) => sum + length, 0);
	if (laidOut !== totalBytes) throw new Error(`job ${jobId}: the layout covers ${laidOut} of ${totalBytes} bytes`);
	return { header, layout: { totalBytes, keys, segments } };
}

/** A byte range of an object, and where it goes in a part. */
export interface PartRead {
	key: string;
	offset: number;
	length: number;
	/** Offset within the part. */
	at: number;
}

/** Bytes of part `part` (1-based) when every part but the last is `partBytes` long. */
export function partLength(totalBytes: number, partBytes: number, part: number): number {
	return Math.max(0, Math.min(partBytes, totalBytes - (part - 1) * partBytes));
}

/** The reads that make part `part` (1-based) of the file. */
export function partReads(layout: ResultLayout, partBytes: number, part: number): PartRead[] {
	const start = (part - 1) * partBytes;
	const end = start + partLength(layout.totalBytes, partBytes, part);
	const reads: PartRead[] = [];
	let fileOffset = 0;
	for (const [index, offset, length] of layout.segments) {
		const from = Math.max(start, fileOffset);
		const to = Math.min(end, fileOffset + length);
		if (to > from) {
			reads.push({
				key: layout.keys[index] as string,
				offset: offset + from - fileOffset,
				length: to - from,
				at: from - start,
			});
		}
		fileOffset += length;
		if (fileOffset >= end) break;
	}
	return reads;
}

/**
 * Bytes the layout invocation holds for a `width` x `height` result, generously: per tile, its
 * byte count as D1 returns it and as numbers, its offset and count in the header, and its run.
 */
export function layoutWorkingSetBytes(levels: readonly CogLevel[]): number {
	const tiles = levels.reduce((sum, level) => sum + level.tilesAcross * level.tilesDown, 0);
	return tiles * 256;
}
