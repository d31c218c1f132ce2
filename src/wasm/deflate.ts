// The one place that talks to the tile encoder (wasm/assembly/deflate.ts): it instantiates the
// compiled module, lays its buffers out after heap_base(), cuts a tile out of a raster straight
// into them (as the output type's samples) and copies its zlib stream out. Its memory is about
// 2.3 tiles: the tile (predicted in place), the tokens of one block and the stream.

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
 * Encodes the `width` x `rows` tile of `raster` whose top-left pixel is (x0, y0) as TIFF stores
 * it with Deflate: its values as `output`'s samples (src/raster/output-type.ts; float32 as
 * computed by default), the type's predictor (3 for float32, 2 for integers), then one zlib
 * stream. The part past the raster's right or bottom edge is the type's nodata, as a COG's
 * edge tiles are whole. Returns a copy, never a view of Wasm memory. `width` must be a
 * multiple of 16.
 */
export type TileEncoder = (
	raster: FloatRaster,
	x0: number,
	y0: number,
	width: number,
	rows: number,
	output?: OutputOptions,
) => Uint8Array<ArrayBuffer>;

const WASM_PAGE_BYTES = 65536;
/** The encoder reads one byte before each row buffer, and vectors of 16 bytes. */
const ROW_SLACK_BYTES = 32;

export function createTileEncoder(module: WebAssembly.Module): TileEncoder {
	const { exports } = instantiate(module);
	const wasm = exports as unknown as DeflateExports;
	const base = alignTo16(wasm.heap_base());
	const tokenBytes = wasm.block_bytes() * 2;
	return function encodeTile(raster, x0, y0, width, rows, output = FLOAT32_OUTPUT) {
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
		const outputPtr = rowPtr + alignTo16(width * 4 + ROW_SLACK_BYTES);
		const end = outputPtr + wasm.max_output_bytes(bytes);
		const available = wasm.memory.buffer.byteLength;
		if (end > available) wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		// grow() detaches the old buffer, so views are made only after it.
		const tile = type.view(wasm.memory.buffer, tilePtr, width * rows);
		if (columns < width || rowsInside < rows) tile.fill(type.nodata);
		for (let row = 0; row < rowsInside; row++) {
			const from = (y0 + row) * raster.width + x0;
			const to = row * width;
			quantizeInto(raster.values.subarray(from, from + columns), tile.subarray(to, to + columns), output);
		}
		const length = wasm.encode_tile(tilePtr, width, rows, type.bytes, tokensPtr, rowPtr, outputPtr);
		return new Uint8Array(wasm.memory.buffer).slice(outputPtr, outputPtr + length);
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
