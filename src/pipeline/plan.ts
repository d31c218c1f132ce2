/**
 * The strip plan: how a job's raster is cut into windows (rows x columns) so that one compute
 * invocation's working set stays under the configured memory budget, that every output tile of
 * result.tif lies inside exactly one window, and that the inputs' blocks are decoded as few
 * times as the budget allows: once each whenever some plan under the budget does so.
 */

import type { Point } from "../raster/aoi";
import { COG_TILE_SIZE as OUTPUT_TILE } from "../raster/cog-writer";
import type { GeoReference } from "../raster/georeference";
import type { Grid, InputMapping } from "../raster/grid";
import { READ_GROUP_BYTES } from "../raster/read";
import type { ResamplingMethod } from "../raster/resample";
import { ARENA_STATISTICS_BYTES, SKETCH_TABLE_BYTES } from "../wasm/kernels";

export interface PlannedInput {
	name: string;
	/** The upload and its R2 object, or null for a remote input. */
	upload_id: string | null;
	object_key: string | null;
	/** The remote COG's URL, or null for an upload. */
	href: string | null;
	bytes: number;
	/** The remote COG's ETag at ingest, which compute's reads must match (absent in older plans). */
	etag?: string | null;
	/** 1-based band of the file. */
	band: number;
	data_type: string;
	/** The value that marks a pixel as missing; null when none applies (NaN needs no rule). */
	nodata: number | null;
	/** Bytes one decoded pixel of the file takes, all bands together. */
	bytes_per_pixel: number;
	block_width: number;
	block_height: number;
	/** How the input is resampled onto the target grid; absent when it is read on that grid as it is. */
	placement?: InputPlacement;
}

/** An input on another grid than the target's: where its pixels lie, and how they are resampled. */
export interface InputPlacement {
	mapping: InputMapping;
	resampling: ResamplingMethod;
}

/** One compute invocation's window: rows [rowStart, rowEnd) x columns [colStart, colEnd). */
export interface StripSpan {
	index: number;
	rowStart: number;
	rowEnd: number;
	colStart: number;
	colEnd: number;
	/**
	 * The names of the plan's inputs this window reads, when not all of them (a plan over several
	 * scenes reads each scene's inputs in its own windows).
	 */
	inputs?: string[];
}

export interface JobPlan {
	width: number;
	height: number;
	geo: GeoReference;
	rows_per_strip: number;
	cols_per_strip: number;
	/**
	 * Columns compute evaluates at once inside a window, a multiple of the output tile: a window
	 * wider than this decodes its blocks once and evaluates them in chunks of this many columns
	 * (so a full-width window over strips fits the budget). Absent in plans from before chunks
	 * and in plans whose windows are evaluated whole.
	 */
	chunk_columns?: number;
	/**
	 * How many windows the job keeps queued at once (WINDOWS_IN_FLIGHT_PER_JOB when validate
	 * planned it): each finished window queues the one this many places on. Absent in plans from
	 * before the limit, whose windows were all queued at once.
	 */
	windows_in_flight?: number;
	strips: StripSpan[];
	inputs: PlannedInput[];
	/**
	 * Where the output lies on the target grid when it is not the whole of it (an area of
	 * interest): its first pixel there, the target grid, and the AOI's polygons in the grid's CRS
	 * (pixels whose centre lies outside them are NaN). Absent: the output is the target grid.
	 */
	area?: { origin: { column: number; row: number }; grid: Grid; polygons?: Point[][][] };
	/** The pixels the job computes, which the pixel quota counts: width x height when absent. */
	pixels?: number;
}

/** Identifies the file an input reads, so inputs sharing one file decode it once. */
export function fileOf(input: Pick<PlannedInput, "upload_id" | "href">): string {
	return input.upload_id ?? input.href ?? "";
}

function gcd(a: number, b: number): number {
	return b === 0 ? a : gcd(b, a % b);
}

function lcm(values: readonly number[]): number {
	return values.reduce((result, value) => (result * value) / gcd(result, value), 1);
}

/** The ranged source's block cache (32 x 64 KiB) per file, and one tile's encoding scratch. */
const CACHE_BYTES_PER_FILE = 2 * 1024 * 1024;
const TILE_SCRATCH_BYTES = 3 * OUTPUT_TILE * OUTPUT_TILE * 4;
/** The arena's statistics and the quantile sketch's tables (the kernels' static data). */
const STATISTICS_BYTES = ARENA_STATISTICS_BYTES + SKETCH_TABLE_BYTES;

/**
 * Bytes one pixel of a window costs until the window is stored: its compressed output tiles (at
 * worst as large as the float32 values) and its 2 x 2 average (a quarter of them).
 */
const WINDOW_BYTES_PER_PIXEL = 4 + 1;

/**
 * Bytes one pixel of a window costs for each input resampled onto it: its float32 values, held
 * for the whole window (its source blocks are counted with the files' blocks, at the output's
 * span, which over-counts a coarser input).
 */
const RESAMPLED_BYTES_PER_PIXEL = 4;

/** A resampled input's source samples copied out: its own type (8 bytes at most) and a float32 copy. */
const SOURCE_COPY_BYTES_PER_PIXEL = 8 + 4;

/**
 * Source pixels along one axis a resampled input reads under `span` output pixels: `factor`
 * times as many for a finer input, a `factor`th for a coarser one, and the neighbours a
 * bilinear or average kernel reaches on each side.
 */
function sourceSpan(span: number, { mapping }: InputPlacement): number {
	const halo = 2 * (mapping.scale === "coarser" ? 1 : mapping.factor);
	if (mapping.scale === "finer") return span * mapping.factor + halo;
	if (mapping.scale === "coarser") return Math.ceil(span / mapping.factor) + halo;
	return span + halo;
}

function resampled(inputs: readonly PlannedInput[]): number {
	return inputs.filter((input) => input.placement !== undefined).length;
}

/**
 * Bytes one pixel of a chunk (the columns evaluated at once) costs: each input converted to
 * float32 in Wasm memory and the float32 output. A window evaluated in several chunks also
 * holds one chunk's 2 x 2 average (a quarter) before it joins the window's.
 */
function chunkBytesPerPixel(inputs: readonly PlannedInput[], chunked: boolean): number {
	return inputs.length * 4 + 4 + (chunked ? 1 : 0);
}

/**
 * Pixels of `extent` covered by the blocks that a `span`-long stretch starting at a multiple of
 * `span` overlaps, at worst: a stretch starting `gcd(span, block)` short of a block edge
 * overlaps the most.
 */
function coveredBy(span: number, block: number, extent: number): number {
	const blocks = Math.floor((span + block - gcd(span, block) - 1) / block) + 1;
	return Math.min(extent, blocks * block);
}

/**
 * Pixels of the blocks a window holds along one axis: the reader keeps only the part of a block
 * inside the window when the block reaches past it, so at most the window's span, and the part
 * of a block at the raster's edge that lies past the edge (kept whole when the rest is inside).
 */
function heldBy(span: number, block: number, extent: number): number {
	const overhang = Math.ceil(extent / block) * block - extent;
	return Math.min(coveredBy(span, block, extent), span + overhang);
}

/** The files the inputs read, each once, with the layout of its blocks. */
function filesOf(inputs: readonly PlannedInput[]): PlannedInput[] {
	return [...new Map(inputs.map((input) => [fileOf(input), input])).values()];
}

/**
 * Working set of a `rows` x `columns` window whose edges fall on multiples of `rows` and
 * `columns`, evaluated `chunkColumns` columns at a time (the whole window when omitted): the
 * decoded blocks it touches (only their part inside the window when they reach past it), the
 * blocks being read (compute reads each file in groups of at most
 * READ_GROUP_BYTES stored, or one block, held compressed and copied once by the ranged source),
 * the caches, the window's output tiles and average, the inputs resampled onto it, and one
 * chunk's inputs and output.
 */
export function windowBytes(
	rows: number,
	columns: number,
	raster: { width: number; height: number },
	inputs: readonly PlannedInput[],
	chunkColumns = columns,
): number {
	const files = filesOf(inputs.filter((input) => input.placement === undefined));
	let blocks = 0;
	let largestBlock = 0;
	for (const file of files) {
		const heldRows = heldBy(rows, file.block_height, raster.height);
		const heldColumns = heldBy(columns, file.block_width, raster.width);
		blocks += file.bytes_per_pixel * heldRows * heldColumns;
		largestBlock = Math.max(largestBlock, file.bytes_per_pixel * file.block_width * file.block_height);
	}
	// A resampled input reads its own file for its source pixels under the window: a finer one
	// many times the window's pixels, a coarser one fewer. Its samples are copied out (as float32
	// at worst, where blocks are stored empty) before they are resampled.
	let resampledBytes = 0;
	for (const input of inputs) {
		const placement = input.placement;
		if (!placement) continue;
		const { grid } = placement.mapping;
		const sourceRows = sourceSpan(rows, placement);
		const sourceColumns = sourceSpan(columns, placement);
		const heldRows = heldBy(sourceRows, input.block_height, grid.height);
		const heldColumns = heldBy(sourceColumns, input.block_width, grid.width);
		resampledBytes +=
			input.bytes_per_pixel * heldRows * heldColumns + sourceRows * sourceColumns * SOURCE_COPY_BYTES_PER_PIXEL;
		largestBlock = Math.max(largestBlock, input.bytes_per_pixel * input.block_width * input.block_height);
	}
	const reading = 2 * Math.max(READ_GROUP_BYTES, largestBlock);
	const chunk = Math.min(chunkColumns, columns);
	const opened = files.length + resampled(inputs);
	return (
		blocks +
		resampledBytes +
		reading +
		opened * CACHE_BYTES_PER_FILE +
		TILE_SCRATCH_BYTES +
		STATISTICS_BYTES +
		rows * columns * (WINDOW_BYTES_PER_PIXEL + RESAMPLED_BYTES_PER_PIXEL * resampled(inputs)) +
		rows * chunk * chunkBytesPerPixel(inputs, chunk < columns)
	);
}

/**
 * Bytes of blocks decoded over a whole job cut into `windows`: each window decodes every block
 * it overlaps, so a block two windows overlap counts twice.
 */
export function decodedBytes(windows: readonly StripSpan[], inputs: readonly PlannedInput[]): number {
	let total = 0;
	for (const file of filesOf(inputs)) {
		const blockBytes = file.bytes_per_pixel * file.block_width * file.block_height;
		for (const { rowStart, rowEnd, colStart, colEnd } of windows) {
			const down = Math.floor((rowEnd - 1) / file.block_height) - Math.floor(rowStart / file.block_height) + 1;
			const across = Math.floor((colEnd - 1) / file.block_width) - Math.floor(colStart / file.block_width) + 1;
			total += down * across * blockBytes;
		}
	}
	return total;
}

/** Windows of `rows` x `columns` over the raster, row-major, the last ones cut at its edges. */
export function windowsOf(width: number, height: number, rows: number, columns: number): StripSpan[] {
	const strips: StripSpan[] = [];
	for (let rowStart = 0; rowStart < height; rowStart += rows) {
		for (let colStart = 0; colStart < width; colStart += columns) {
			strips.push({
				index: strips.length,
				rowStart,
				rowEnd: Math.min(height, rowStart + rows),
				colStart,
				colEnd: Math.min(width, colStart + columns),
			});
		}
	}
	return strips;
}

/** The largest multiple of `step` (at least one step, at most the extent rounded up) that fits. */
function largest(step: number, extent: number, fits: (size: number) => boolean): number {
	let size = step;
	while (size < extent && fits(size + step)) size += step;
	return Math.min(size, Math.ceil(extent / step) * step);
}

export interface StripPlan {
	rowsPerStrip: number;
	colsPerStrip: number;
	/** Columns evaluated at once; equal to colsPerStrip when windows are evaluated whole. */
	chunkColumns: number;
	strips: StripSpan[];
}

/**
 * Cuts the raster into windows whose edges are multiples of the output tile (so no output tile
 * is split between invocations), under the budget, choosing among these shapes the one that
 * decodes the fewest bytes of blocks over the job (ties: windows evaluated whole, then fewer
 * windows):
 *
 * - full-width windows, as many rows as fit, evaluated whole;
 * - full-width windows evaluated in chunks of columns: each window's blocks are decoded once and
 *   only one chunk's inputs and output are held at a time, which is what lets a raster of
 *   full-width strips (GDAL's default layout) be decoded once per job;
 * - windows of one row alignment cut into columns too (aligned to the inputs' blocks where the
 *   budget allows), evaluated whole or in chunks: a row of 1024 x 1024 tiles across a
 *   10980-pixel scene is over budget, and tiles are decoded once however they are cut.
 *
 * Rows are aligned to every input's block height where that fits (so no block is split
 * between two windows), else to the output tile alone. When no shape fits, the windows are
 * one output tile, the smallest there is. Blocks an input's layout spreads across window
 * edges that must fall on multiples of 512 (e.g. strips wider than the budget allows for a
 * full-width window) are decoded by each window that needs them.
 */
export function planStrips(
	width: number,
	height: number,
	inputs: readonly PlannedInput[],
	budgetBytes: number,
): StripPlan {
	const raster = { width, height };
	const fits = (rows: number, columns: number, chunk: number) =>
		windowBytes(Math.min(rows, height), Math.min(columns, width), raster, inputs, chunk) <= budgetBytes;
	const rowAlignments = [...new Set([lcm([OUTPUT_TILE, ...inputs.map((input) => input.block_height)]), OUTPUT_TILE])];
	const columnAlignment = lcm([OUTPUT_TILE, ...inputs.map((input) => input.block_width)]);
	const shapes: { rows: number; columns: number; chunk: number }[] = [];
	for (const rowAlign of rowAlignments) {
		for (const chunked of [false, true]) {
			// A chunked shape is sized with the smallest chunk, then given the widest chunk that fits.
			const least = (columns: number) => (chunked ? OUTPUT_TILE : columns);
			const widestChunk = (rows: number, columns: number) =>
				chunked ? largest(OUTPUT_TILE, columns, (chunk) => fits(rows, columns, chunk)) : columns;
			if (fits(rowAlign, width, least(width))) {
				const rows = largest(rowAlign, height, (size) => fits(size, width, least(width)));
				shapes.push({ rows, columns: width, chunk: widestChunk(rows, width) });
			}
			const colAlign =
				columnAlignment !== OUTPUT_TILE && fits(rowAlign, columnAlignment, least(columnAlignment))
					? columnAlignment
					: OUTPUT_TILE;
			if (fits(rowAlign, colAlign, least(colAlign))) {
				const columns = largest(colAlign, width, (size) => fits(rowAlign, size, least(size)));
				shapes.push({ rows: rowAlign, columns, chunk: widestChunk(rowAlign, columns) });
			}
		}
	}
	let best: (StripPlan & { decoded: number }) | null = null;
	for (const shape of shapes) {
		const rows = Math.min(shape.rows, height);
		const columns = Math.min(shape.columns, width);
		const chunkColumns = Math.min(shape.chunk, columns);
		const strips = windowsOf(width, height, rows, columns);
		const candidate = { rowsPerStrip: rows, colsPerStrip: columns, chunkColumns, strips };
		const decoded = decodedBytes(strips, inputs);
		const order = (plan: StripPlan & { decoded: number }) =>
			[plan.decoded, plan.chunkColumns < plan.colsPerStrip ? 1 : 0, plan.strips.length] as const;
		const [a, b, c] = order({ ...candidate, decoded });
		const [x, y, z] = best ? order(best) : [Number.POSITIVE_INFINITY, 0, 0];
		if (a < x || (a === x && (b < y || (b === y && c < z)))) best = { ...candidate, decoded };
	}
	if (best) {
		const { decoded: _decoded, ...plan } = best;
		return plan;
	}
	const rows = Math.min(OUTPUT_TILE, height);
	const columns = Math.min(OUTPUT_TILE, width);
	return {
		rowsPerStrip: rows,
		colsPerStrip: columns,
		chunkColumns: columns,
		strips: windowsOf(width, height, rows, columns),
	};
}

/** The plan validate stored for a job, or null before validate has. */
export function jobPlan(job: { plan: unknown }): JobPlan | null {
	return (job.plan as JobPlan | null) ?? null;
}

/** The pixels a plan computes: what the pixel quota counts and the job's usage reports. */
export function planPixels(plan: JobPlan): number {
	return plan.pixels ?? plan.width * plan.height;
}
