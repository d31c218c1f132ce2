// The one place that talks to the tile encoder (wasm/assembly/deflate.ts): it instantiates the
// compiled module, lays its buffers out after heap_base(), copies a tile in and its zlib stream
// out.

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
		predicted: number,
		tokens: number,
		row: number,
		output: number,
	): number;
}

/**
 * Encodes a `width` x `rows` float32 tile (row-major) as TIFF stores it with Deflate and the
 * floating-point predictor: predictor 3, then one zlib stream. Returns a copy, never a view
 * of Wasm memory. `width` must be a multiple of 16.
 */
export type TileEncoder = (tile: Float32Array, width: number, rows: number) => Uint8Array<ArrayBuffer>;

const WASM_PAGE_BYTES = 65536;
/** The encoder reads one byte before each row buffer, and vectors of 16 bytes. */
const ROW_SLACK_BYTES = 32;

export function createTileEncoder(module: WebAssembly.Module): TileEncoder {
	const { exports } = new WebAssembly.Instance(module, {});
	const wasm = exports as unknown as DeflateExports;
	const base = alignTo16(wasm.heap_base());
	const tokenBytes = wasm.block_bytes() * 2;
	return function encodeTile(tile, width, rows) {
		if (!Number.isInteger(width) || width <= 0 || width % 16 !== 0 || !Number.isInteger(rows) || rows <= 0) {
			throw new RangeError(`tile of ${width} x ${rows}: the width must be a positive multiple of 16`);
		}
		if (tile.length !== width * rows) throw new RangeError(`tile has ${tile.length} samples, not ${width * rows}`);
		const bytes = tile.byteLength;
		const tilePtr = base;
		const predictedPtr = tilePtr + alignTo16(bytes);
		const tokensPtr = predictedPtr + alignTo16(bytes);
		const rowPtr = tokensPtr + alignTo16(tokenBytes);
		const outputPtr = rowPtr + alignTo16(width * 4 + ROW_SLACK_BYTES);
		const end = outputPtr + wasm.max_output_bytes(bytes);
		const available = wasm.memory.buffer.byteLength;
		if (end > available) wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		// grow() detaches the old buffer, so views are made only after it.
		new Float32Array(wasm.memory.buffer, tilePtr, tile.length).set(tile);
		const length = wasm.encode_tile(tilePtr, width, rows, predictedPtr, tokensPtr, rowPtr, outputPtr);
		return new Uint8Array(wasm.memory.buffer).slice(outputPtr, outputPtr + length);
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
