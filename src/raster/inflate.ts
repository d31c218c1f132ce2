/**
 * zlib inflate (TIFF Deflate) through the runtime's own zlib, `node:zlib` (the nodejs_compat
 * flag in wrangler.toml): one synchronous native call per block. It takes less than half the
 * CPU of a DecompressionStream, whose per-chunk promises cost more than the inflating itself
 * (`npm run bench:decode` prints both), and far less than pako. The output is bounded: a stream
 * that inflates past the block's size (a "zip bomb" of a few bytes that expands to gigabytes) is
 * stopped by zlib a little past it, and refused.
 */
import { inflateSync } from "node:zlib";
import { RasterInputError } from "./input-errors";

/**
 * How far past the bound zlib is let write. workerd refuses a stream as soon as its output and
 * one more 16 KiB step would reach maxOutputLength, even when that step would only have read
 * the stream's checksum, so a block that inflates to exactly its bound needs this much room;
 * the bound itself is checked here.
 */
const OVERSHOOT_BYTES = 64 * 1024;

export function inflateNative(input: Uint8Array, maxBytes: number): Uint8Array {
	let inflated: Uint8Array;
	try {
		// One output chunk in Node, so nothing is concatenated.
		const limit = maxBytes + OVERSHOOT_BYTES;
		const output = inflateSync(input, { maxOutputLength: limit, chunkSize: limit });
		// A plain view: a Buffer's slice() is a view too, where callers expect slice() to copy, and
		// small Buffers share a pooled ArrayBuffer.
		inflated = new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
	} catch (error) {
		// Node and workerd both report output past maxOutputLength as a RangeError.
		if (error instanceof RangeError) throw tooLong(maxBytes);
		throw new RasterInputError(
			"invalid-raster",
			`Deflate: the block does not inflate (${error instanceof Error ? error.message || error.name : error})`,
		);
	}
	if (inflated.byteLength > maxBytes) throw tooLong(maxBytes);
	return inflated;
}

function tooLong(maxBytes: number): Error {
	return new RasterInputError("invalid-raster", `Deflate: the block inflates past ${maxBytes} bytes`);
}
