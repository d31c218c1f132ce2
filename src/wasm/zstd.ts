// The one place that talks to the Zstandard decoder (wasm/build/zstd.wasm, extracted from the
// zstddec package by scripts/extract-zstd-wasm.ts): it instantiates the compiled module,
// copies a compressed block into its memory and the decoded bytes out.
import { RasterInputError } from "../raster/input-errors";
import { instantiate } from "./instances";

/** The raw ABI of zstd.wasm (zstd's one-shot API, built by Emscripten). */
interface ZstdExports {
	readonly memory: WebAssembly.Memory;
	malloc(size: number): number;
	free(pointer: number): void;
	ZSTD_decompress(destination: number, capacity: number, source: number, sourceSize: number): number;
	ZSTD_findDecompressedSize(source: number, sourceSize: number): bigint;
	ZSTD_isError(code: number): number;
}

/**
 * Decodes one Zstandard frame into at most `maxBytes`. With `exact`, `maxBytes` is the output's
 * capacity (a block's decoded size); without it, the frame must state its decoded size (GDAL's
 * frames do), and a frame stating more than `maxBytes` is refused before anything is allocated.
 */
export type ZstdDecode = (input: Uint8Array, maxBytes: number, exact?: boolean) => Uint8Array;

export function createZstdDecode(module: WebAssembly.Module): ZstdDecode {
	const instance = instantiate(module, {
		// Memory views are taken after every allocation, so growth needs no notice.
		env: { emscripten_notify_memory_growth: () => {} },
	});
	const wasm = instance.exports as unknown as ZstdExports;
	return function zstdDecode(input, maxBytes, exact = true) {
		const source = wasm.malloc(input.byteLength);
		let destination = 0;
		try {
			if (source === 0) throw new Error("ZSTD: out of Wasm memory");
			new Uint8Array(wasm.memory.buffer).set(input, source);
			const capacity = exact ? maxBytes : frameSize(source, input.byteLength, maxBytes);
			destination = wasm.malloc(capacity);
			if (destination === 0) throw new Error("ZSTD: out of Wasm memory");
			// size_t results come back as i32: errors are the top of the unsigned range.
			const written = wasm.ZSTD_decompress(destination, capacity, source, input.byteLength) >>> 0;
			if (wasm.ZSTD_isError(written)) {
				throw new RasterInputError("invalid-raster", `ZSTD: the block does not decode (error ${-(written | 0)})`);
			}
			return new Uint8Array(wasm.memory.buffer).slice(destination, destination + written);
		} finally {
			wasm.free(source);
			if (destination !== 0) wasm.free(destination);
		}
	};

	function frameSize(source: number, sourceSize: number, maxBytes: number): number {
		// Unknown and error sizes are the top of the unsigned 64-bit range, negative here.
		const size = BigInt.asIntN(64, wasm.ZSTD_findDecompressedSize(source, sourceSize));
		if (size < 0n) throw new RasterInputError("invalid-raster", "ZSTD: the frame does not state its size");
		if (size > BigInt(maxBytes)) {
			throw new RasterInputError("invalid-raster", `ZSTD: the frame states ${size} bytes, more than ${maxBytes}`);
		}
		return Number(size);
	}
}
