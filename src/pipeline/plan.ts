/**
 * The strip plan: how a job's raster is cut into windows (rows x columns) so that one compute
 * invocation's working set stays under the configured memory budget, and so that every
 * output tile of result.tif lies inside exactly one window.
 */

import { COG_TILE_SIZE as OUTPUT_TILE } from "../raster/cog-writer";
import type { GeoReference } from "../raster/georeference";
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
}

/** One compute invocation's window: rows [rowStart, rowEnd) x columns [colStart, colEnd). */
export interface StripSpan {
	index: number;
	rowStart: number;
	rowEnd: number;
	colStart: number;
	colEnd: number;
}

export interface JobPlan {
	width: number;
	height: number;
	geo: GeoReference;
	rows_per_strip: number;
	cols_per_strip: number;
	/**
	 * How many windows the job keeps queued at once (WINDOWS_IN_FLIGHT_PER_JOB when validate
	 * planned it): each finished window queues the one this many places on. Absent in plans from
	 * before the limit, whose windows were all queued at once.
	 */
	windows_in_flight?: number;
	strips: StripSpan[];
	inputs: PlannedInput[];
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
 * Bytes one output pixel costs in compute, beyond the input blocks: each input converted to
 * float32 in Wasm memory, the float32 output, its compressed tiles (at worst as large) and its
 * decimated copy (a quarter).
 */
function outputBytesPerPixel(inputs: readonly PlannedInput[]): number {
	return inputs.length * 4 + 4 + 4 + 1;
}

/** Pixels of `extent` that the blocks overlapping a `span`-long stretch cover, at worst. */
function coveredBy(span: number, block: number, extent: number, aligned: boolean): number {
	return Math.min(extent, (Math.ceil(span / block) + (aligned ? 0 : 1)) * block);
}

/**
 * Working set of a `rows` x `columns` window whose edges fall on multiples of `rows` and
 * `columns`: every block it touches held compressed and decoded (twice its decoded size, as
 * geotiff.js may have them all in flight at once), the caches, and the output.
 */
export function windowBytes(
	rows: number,
	columns: number,
	raster: { width: number; height: number },
	inputs: readonly PlannedInput[],
): number {
	const files = new Map(inputs.map((input) => [fileOf(input), input]));
	let blocks = 0;
	for (const file of files.values()) {
		const coveredRows = coveredBy(rows, file.block_height, raster.height, rows % file.block_height === 0);
		const coveredColumns = coveredBy(columns, file.block_width, raster.width, columns % file.block_width === 0);
		blocks += 2 * file.bytes_per_pixel * coveredRows * coveredColumns;
	}
	const fixed = files.size * CACHE_BYTES_PER_FILE + TILE_SCRATCH_BYTES + STATISTICS_BYTES;
	return blocks + fixed + rows * columns * outputBytesPerPixel(inputs);
}

/** The first alignment that fits the budget at its smallest window, else the plain tile size. */
function chooseAlignment(candidate: number, fits: (alignment: number) => boolean): number {
	return candidate !== OUTPUT_TILE && fits(candidate) ? candidate : OUTPUT_TILE;
}

/**
 * Cuts the raster into windows whose edges are multiples of the output tile (so no output tile
 * is split between invocations) and, where the budget allows, of the inputs' blocks (so no
 * block is decoded twice). Full-width strips are preferred; when even the shortest full-width
 * strip is over budget (e.g. 1024-row tiles across a 10980-pixel scene), strips are also cut
 * into columns. A window never gets smaller than one output tile.
 */
export function planStrips(
	width: number,
	height: number,
	inputs: readonly PlannedInput[],
	budgetBytes: number,
): { rowsPerStrip: number; colsPerStrip: number; strips: StripSpan[] } {
	const raster = { width, height };
	const cost = (rows: number, columns: number) =>
		windowBytes(Math.min(rows, height), Math.min(columns, width), raster, inputs);
	const rowAlign = chooseAlignment(
		lcm([OUTPUT_TILE, ...inputs.map((input) => input.block_height)]),
		(rows) => cost(rows, OUTPUT_TILE) <= budgetBytes,
	);
	const colAlign = chooseAlignment(
		lcm([OUTPUT_TILE, ...inputs.map((input) => input.block_width)]),
		(columns) => cost(rowAlign, columns) <= budgetBytes,
	);
	/** The largest multiple of `step` (at least one step, at most the extent) that fits. */
	const largest = (step: number, extent: number, fits: (size: number) => boolean) => {
		let size = step;
		while (size < extent && fits(size + step)) size += step;
		return Math.min(size, Math.ceil(extent / step) * step);
	};
	let rowsPerStrip: number;
	let colsPerStrip: number;
	if (cost(rowAlign, width) <= budgetBytes) {
		colsPerStrip = width;
		rowsPerStrip = largest(rowAlign, height, (rows) => cost(rows, width) <= budgetBytes);
	} else {
		rowsPerStrip = rowAlign;
		colsPerStrip = largest(colAlign, width, (columns) => cost(rowAlign, columns) <= budgetBytes);
	}
	const strips: StripSpan[] = [];
	for (let rowStart = 0; rowStart < height; rowStart += rowsPerStrip) {
		for (let colStart = 0; colStart < width; colStart += colsPerStrip) {
			strips.push({
				index: strips.length,
				rowStart,
				rowEnd: Math.min(height, rowStart + rowsPerStrip),
				colStart,
				colEnd: Math.min(width, colStart + colsPerStrip),
			});
		}
	}
	return { rowsPerStrip: Math.min(rowsPerStrip, height), colsPerStrip: Math.min(colsPerStrip, width), strips };
}
