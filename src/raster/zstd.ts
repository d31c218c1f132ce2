/**
 * Zstandard (TIFF compression 50000, and LERC's ZSTD layer) through the runtime's own zstd,
 * `node:zlib` (the nodejs_compat flag in wrangler.toml): one synchronous native call per block,
 * which `npm run bench:decode` measured at less than two thirds of the time of zstd built to
 * Wasm (the zstddec package's, which EO Edge used before). The output is bounded: a frame that
 * decodes past the block's size (a few bytes can expand to gigabytes) is stopped by zstd a
 * little past it, and refused.
 */
import { zstdDecompressSync } from "node:zlib";
import { RasterInputError } from "./input-errors";

/** How far past the bound zstd is let write, so a block of exactly its bound needs no second try. */
const OVERSHOOT_BYTES = 64 * 1024;

/** Decodes Zstandard frames into at most `maxBytes`, refusing frames that decode further. */
export function zstdNative(input: Uint8Array, maxBytes: number): Uint8Array {
	let decoded: Uint8Array;
	try {
		// One output chunk of the block's size, so a whole block is a buffer of its own with
		// nothing concatenated (zlib's chunks are at least 64 bytes).
		const chunkSize = Math.max(maxBytes, 64);
		const output = zstdDecompressSync(input, { maxOutputLength: maxBytes + OVERSHOOT_BYTES, chunkSize });
		// A plain view: a Buffer's slice() is a view too, where callers expect slice() to copy, and
		// small Buffers share a pooled ArrayBuffer.
		decoded = new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
	} catch (error) {
		// Node and workerd both report output past maxOutputLength as a RangeError.
		if (error instanceof RangeError) throw tooLong(maxBytes);
		throw new RasterInputError(
			"invalid-raster",
			`ZSTD: the block does not decode (${error instanceof Error ? error.message || error.name : error})`,
		);
	}
	if (decoded.byteLength > maxBytes) throw tooLong(maxBytes);
	return decoded;
}

function tooLong(maxBytes: number): RasterInputError {
	return new RasterInputError("invalid-raster", `ZSTD: the block decodes past ${maxBytes} bytes`);
}
