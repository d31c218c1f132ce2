// The one place that talks to the tile encoder (wasm/assembly/deflate.ts): it instantiates the
// compiled module, lays its buffers out after heap_base(), cuts a tile out of a raster straight
// into them (as the output type's samples) and keeps its zlib stream after the streams of the
// tiles before it, until they are taken out in one copy. Its memory is about 1.3 tiles (the
// tile, predicted in place, and the tokens of one block) and the streams kept.

import { FLOAT32_OUTPUT, type OutputOptions, outputTypes, quantizeInto } from "../raster/output-type";
import type { FloatRaster } from "../raster/tiles";
import { instantiate } from "./instances";

/** The raw ABI of deflate.wasm: every pointer is a byte offset into `memory`. */
interface DeflateExports {
	readonly memory: WebAssembly.Memory;
	heap_base(): number;
	block_bytes(): number;
	max_output_bytes(bytes: number): number;
	encode_tile(
		tile: number,
		width: number,
		rows: number,
		sampleBytes: number,
		tokens: number,
		row: number,
		output: number,
	): number;
}

/**
 * A window's or block's tiles encoded one after another, their streams kept in the encoder's
 * memory and taken out together: one buffer a window, not one a tile and a copy joining them.
 */
export interface TileEncoder {
	/**
	 * Encodes the `width` x `rows` tile of `raster` whose top-left pixel is (x0, y0) as TIFF
	 * stores it with Deflate: its values as `output`'s samples (src/raster/output-type.ts;
	 * float32 as computed by default), the type's predictor (3 for float32, 2 for integers),
	 * then one zlib stream, kept after the streams added since the last take(). The part past
	 * the raster's right or bottom edge is the type's nodata, as a COG's edge tiles are whole.
	 * Returns the stream's byte count. `width` must be a multiple of 16.
	 */
	add(raster: FloatRaster, x0: number, y0: number, width: number, rows: number, output?: OutputOptions): number;
	/** The streams added since the last take, one after another, in a buffer of their own; the encoder keeps none after. */
	take(): Uint8Array<ArrayBuffer>;
	/** Whether streams were added and not taken. */
	holdsStreams(): boolean;
}

const WASM_PAGE_BYTES = 65536;
/** The encoder reads one byte before each row buffer, and vectors of 16 bytes. */
const ROW_SLACK_BYTES = 32;

export function createTileEncoder(module: WebAssembly.Module): TileEncoder {
	const { exports } = instantiate(module);
	const wasm = exports as unknown as DeflateExports;
	const base = alignTo16(wasm.heap_base());
	const tokenBytes = wasm.block_bytes() * 2;
	/** Where the kept streams start (after the largest tile's room so far) and end. */
	let streamsAt = base;
	let streamsEnd = base;

	/** Grows the memory to hold `end` bytes; grow() detaches earlier views. */
	function reserve(end: number): void {
		const available = wasm.memory.buffer.byteLength;
		if (end > available) wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
	}

	return {
		add(raster, x0, y0, width, rows, output = FLOAT32_OUTPUT) {
			if (!Number.isInteger(width) || width <= 0 || width % 16 !== 0 || !Number.isInteger(rows) || rows <= 0) {
				throw new RangeError(`tile of ${width} x ${rows}: the width must be a positive multiple of 16`);
			}
			if (raster.values.length !== raster.width * raster.height) {
				throw new RangeError(`raster has ${raster.values.length} samples, not ${raster.width} x ${raster.height}`);
			}
			const columns = Math.min(width, raster.width - x0);
			const rowsInside = Math.min(rows, raster.height - y0);
			if (!(Number.isInteger(x0) && Number.isInteger(y0) && x0 >= 0 && y0 >= 0 && columns > 0 && rowsInside > 0)) {
				throw new RangeError(`tile at (${x0}, ${y0}) lies outside the ${raster.width} x ${raster.height} raster`);
			}
			const type = outputTypes[output.data_type];
			const bytes = width * rows * type.bytes;
			const tilePtr = base;
			const tokensPtr = tilePtr + alignTo16(bytes);
			const rowPtr = tokensPtr + alignTo16(tokenBytes);
			const scratchEnd = rowPtr + alignTo16(width * 4 + ROW_SLACK_BYTES);
			if (scratchEnd > streamsAt) {
				// A larger tile than any before: the kept streams move up past its room.
				const kept = streamsEnd - streamsAt;
				reserve(scratchEnd + kept + wasm.max_output_bytes(bytes));
				new Uint8Array(wasm.memory.buffer).copyWithin(scratchEnd, streamsAt, streamsEnd);
				streamsAt = scratchEnd;
				streamsEnd = scratchEnd + kept;
			}
			reserve(streamsEnd + wasm.max_output_bytes(bytes));
			// Views are made only after the last grow().
			const tile = type.view(wasm.memory.buffer, tilePtr, width * rows);
			if (columns < width || rowsInside < rows) tile.fill(type.nodata);
			for (let row = 0; row < rowsInside; row++) {
				const from = (y0 + row) * raster.width + x0;
				const to = row * width;
				quantizeInto(raster.values.subarray(from, from + columns), tile.subarray(to, to + columns), output);
			}
			const length = wasm.encode_tile(tilePtr, width, rows, type.bytes, tokensPtr, rowPtr, streamsEnd);
			streamsEnd += length;
			return length;
		},
		take() {
			const streams = new Uint8Array(wasm.memory.buffer).slice(streamsAt, streamsEnd);
			streamsEnd = streamsAt;
			return streams;
		},
		holdsStreams: () => streamsEnd > streamsAt,
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
