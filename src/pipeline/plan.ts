/**
 * The strip plan: how a job's raster is cut into row strips so that one compute invocation's
 * working set stays under the configured memory budget.
 */
import type { GeoReference } from "../raster/georeference";

export interface PlannedInput {
	name: string;
	/** The upload and its R2 object, or null for a remote input. */
	upload_id: string | null;
	object_key: string | null;
	/** The remote COG's URL, or null for an upload. */
	href: string | null;
	bytes: number;
	/** 1-based band of the file. */
	band: number;
	data_type: string;
	/** The value that marks a pixel as missing; null when none applies (NaN needs no rule). */
	nodata: number | null;
	/** Bytes one decoded pixel of the file takes, all bands together. */
	bytes_per_pixel: number;
	block_height: number;
}

export interface StripSpan {
	index: number;
	rowStart: number;
	rowEnd: number;
}

export interface JobPlan {
	width: number;
	height: number;
	geo: GeoReference;
	rows_per_strip: number;
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

/**
 * Bytes one output row costs in compute: each file's decoded blocks (compressed and decoded
 * copies may coexist, hence twice), each input's window as its own array (counted at 4 bytes a
 * sample), and the float32 output.
 */
export function bytesPerRow(width: number, inputs: readonly PlannedInput[]): number {
	const files = new Map(inputs.map((input) => [fileOf(input), input.bytes_per_pixel]));
	const decoded = [...files.values()].reduce((sum, bytesPerPixel) => sum + 2 * bytesPerPixel * width, 0);
	return decoded + inputs.length * 4 * width + 4 * width;
}

/**
 * Cuts `height` rows into strips aligned to the inputs' block rows (so no block is decoded by
 * two strips) and as tall as the budget allows; always at least one block row per strip.
 */
export function planStrips(height: number, rowBytes: number, budgetBytes: number, blockHeights: readonly number[]) {
	const largest = Math.max(1, ...blockHeights);
	const common = blockHeights.reduce((lcm, h) => (lcm * h) / gcd(lcm, h), 1);
	const affordableRows = Math.floor(budgetBytes / Math.max(1, rowBytes));
	const alignment = common <= Math.max(affordableRows, largest) ? common : largest;
	const rowsPerStrip = Math.min(height, Math.max(alignment, Math.floor(affordableRows / alignment) * alignment));
	const strips: StripSpan[] = [];
	for (let rowStart = 0, index = 0; rowStart < height; rowStart += rowsPerStrip, index++) {
		strips.push({ index, rowStart, rowEnd: Math.min(height, rowStart + rowsPerStrip) });
	}
	return { rowsPerStrip, strips };
}
