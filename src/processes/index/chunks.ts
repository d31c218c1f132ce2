/**
 * A window evaluated in chunks of columns (the plan's `chunk_columns`): its blocks are decoded
 * once, then each chunk is copied into an arena, evaluated and cut into tiles on its own, so a
 * full-width window over strips holds one chunk's arena at a time, not the window's. The
 * chunks' outputs are joined here into the window's: its tiles row-major (or its values), its
 * 2 x 2 average and its partial statistics, as if the window had been evaluated whole.
 */
import { COG_TILE_SIZE } from "../../raster/cog-writer";
import type { PixelWindow } from "../../raster/read";
import { copyRows } from "../../raster/samples";
import type { EncodedTiles } from "../../raster/tiles";
import type { WindowStats } from "../../wasm/kernels";
import { mergeSketchPairs } from "./quantile-sketch";
import { addHistogram, type InputSample, mergedExtremes, mergeMoments } from "./statistics";

/**
 * A window's output as compute stores it: its encoded tiles, row-major, or its float32 values
 * (row-major) when the histogram pass encodes them (./histogram.ts).
 */
export type WindowOutput = { tiles: EncodedTiles } | { values: Float32Array };

/**
 * What one chunk (or a whole window) gives the strip that stores it, none of it in Wasm memory
 * once {@link computeInChunks} has returned it.
 */
export interface ChunkOutput {
	/**
	 * From a chunk's compute, the values may be a view of the arena that the next arena (the
	 * next chunk's or window's) overwrites: computeInChunks copies them straight into the
	 * window's values, with no copy of each chunk's own in between (a full-width window over
	 * strips: 22 MiB of garbage a window).
	 */
	output: WindowOutput;
	half: Float32Array;
	stats: WindowStats;
	/** Pixels the request's mask dropped (NaN in the output, and apart from stats' nodata_count). */
	maskedCount: number;
	/** Samples of the inputs for the warnings, when the formula adds constants to them. */
	inputSamples: Record<string, InputSample> | undefined;
}

/**
 * The window's columns cut every `chunkColumns` (a multiple of the output tile, so no output
 * tile spans two chunks), or the whole window when no chunk size is given or it is as wide.
 */
export function chunksOf(window: PixelWindow, chunkColumns: number | undefined): PixelWindow[] {
	const width = window.colEnd - window.colStart;
	if (chunkColumns === undefined || chunkColumns >= width) return [window];
	if (!(chunkColumns > 0 && chunkColumns % COG_TILE_SIZE === 0)) {
		throw new RangeError(`chunks must be a multiple of ${COG_TILE_SIZE} columns, not ${chunkColumns}`);
	}
	const chunks: PixelWindow[] = [];
	for (let colStart = window.colStart; colStart < window.colEnd; colStart += chunkColumns) {
		chunks.push({ ...window, colStart, colEnd: Math.min(window.colEnd, colStart + chunkColumns) });
	}
	return chunks;
}

/**
 * Evaluates `window` chunk by chunk with `compute` (synchronous, so the chunks share one
 * stretch without an await) and joins the outputs into buffers of the window's own.
 */
export function computeInChunks(
	window: PixelWindow,
	chunkColumns: number | undefined,
	compute: (chunk: PixelWindow) => ChunkOutput,
): ChunkOutput {
	const chunks = chunksOf(window, chunkColumns);
	const [only] = chunks;
	if (chunks.length === 1 && only) {
		const whole = compute(only);
		return "values" in whole.output ? { ...whole, output: { values: whole.output.values.slice() } } : whole;
	}
	const height = window.rowEnd - window.rowStart;
	const width = window.colEnd - window.colStart;
	const halfWidth = Math.ceil(width / 2);
	const half = new Float32Array(halfWidth * Math.ceil(height / 2));
	// Values are placed as each chunk gives them, so only one chunk's copy is held besides the window's.
	let values: Float32Array | null = null;
	const tilesByChunk: EncodedTiles[] = [];
	let stats: WindowStats | null = null;
	let inputSamples: Record<string, InputSample> | undefined;
	let maskedCount = 0;
	for (const chunk of chunks) {
		const output = compute(chunk);
		const columns = chunk.colEnd - chunk.colStart;
		const at = chunk.colStart - window.colStart;
		if ("values" in output.output) {
			values ??= new Float32Array(width * height);
			const chunkValues = output.output.values;
			copyRows(chunkValues, 0, columns, values, at, width, chunkValues.length / columns, columns, 1);
		} else {
			tilesByChunk.push(output.output.tiles);
		}
		// Chunks start on multiples of 512 columns, so each chunk's average starts on a whole column.
		const halfColumns = Math.ceil(columns / 2);
		copyRows(output.half, 0, halfColumns, half, at / 2, halfWidth, output.half.length / halfColumns, halfColumns, 1);
		stats = stats ? mergeStats(stats, output.stats) : output.stats;
		inputSamples = mergeInputSamples(inputSamples, output.inputSamples);
		maskedCount += output.maskedCount;
	}
	if (!stats) throw new Error("a window has no chunk");
	const output = values ? { values } : { tiles: rowMajorTiles(tilesByChunk, Math.ceil(height / COG_TILE_SIZE)) };
	return { output, half, stats, maskedCount, inputSamples };
}

/** The chunks' tiles row-major over the window, in one buffer: each tile row takes its tiles from every chunk in turn. */
function rowMajorTiles(tilesByChunk: readonly EncodedTiles[], tileRows: number): EncodedTiles {
	const bytes = new Uint8Array(tilesByChunk.reduce((sum, chunk) => sum + chunk.bytes.byteLength, 0));
	const tileBytes: number[] = [];
	/** Where each chunk's next tile starts in its own bytes. */
	const read = tilesByChunk.map(() => 0);
	let written = 0;
	for (let tileRow = 0; tileRow < tileRows; tileRow++) {
		tilesByChunk.forEach((chunk, c) => {
			const across = chunk.tileBytes.length / tileRows;
			const row = chunk.tileBytes.slice(tileRow * across, (tileRow + 1) * across);
			const length = row.reduce((sum, tile) => sum + tile, 0);
			const from = read[c] ?? 0;
			bytes.set(chunk.bytes.subarray(from, from + length), written);
			read[c] = from + length;
			written += length;
			tileBytes.push(...row);
		});
	}
	return { bytes, tileBytes };
}

/**
 * Statistics of two disjoint sets of values from each one's: counts, sketches and histograms
 * add, and the moments merge as the job's statistics merge the windows' (mergeMoments).
 */
export function mergeStats(a: WindowStats, b: WindowStats): WindowStats {
	let histogram = a.histogram;
	if (histogram && b.histogram) {
		histogram = { counts: [...histogram.counts], below: histogram.below, above: histogram.above };
		addHistogram(histogram, b.histogram);
	}
	return {
		...mergeMoments(a, b),
		nodata_count: a.nodata_count + b.nodata_count,
		...mergedExtremes([a, b]),
		sketch: mergeSketchPairs(a.sketch, b.sketch),
		histogram,
	};
}

/** Both chunks' samples of each input, added. */
function mergeInputSamples(
	a: Record<string, InputSample> | undefined,
	b: Record<string, InputSample> | undefined,
): Record<string, InputSample> | undefined {
	if (!a || !b) return a ?? b;
	return Object.fromEntries(
		Object.entries(a).map(([name, sample]) => [
			name,
			{
				sampled: sample.sampled + (b[name]?.sampled ?? 0),
				far_outside: sample.far_outside + (b[name]?.far_outside ?? 0),
			},
		]),
	);
}
