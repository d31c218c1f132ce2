// The one place that talks to the Zstandard decoder (wasm/build/zstd.wasm, extracted from the
// zstddec package by scripts/extract-zstd-wasm.ts): it instantiates the compiled module,
// copies a compressed block into its memory, and hands the decoded bytes out as a view of that
// memory, which the caller copies once to where they go next (a buffer of their own, or the
// block decoders' memory to undo predictor 2).
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
 * The result is a view of the decoder's memory, valid until its next call.
 */
export type ZstdDecode = (input: Uint8Array, maxBytes: number, exact?: boolean) => Uint8Array;

export function createZstdDecode(module: WebAssembly.Module): ZstdDecode {
	const instance = instantiate(module, {
		// Memory views are taken after every allocation, so growth needs no notice.
		env: { emscripten_notify_memory_growth: () => {} },
	});
	const wasm = instance.exports as unknown as ZstdExports;
	// The stored and the decoded bytes each have an allocation kept from call to call (Wasm memory
	// never shrinks, so keeping them costs nothing), grown when a block needs more.
	const source = keptAllocation();
	const destination = keptAllocation();
	return function zstdDecode(input, maxBytes, exact = true) {
		const sourceAt = source.atLeast(input.byteLength);
		new Uint8Array(wasm.memory.buffer).set(input, sourceAt);
		const capacity = exact ? maxBytes : frameSize(sourceAt, input.byteLength, maxBytes);
		const destinationAt = destination.atLeast(capacity);
		// size_t results come back as i32: errors are the top of the unsigned range.
		const written = wasm.ZSTD_decompress(destinationAt, capacity, sourceAt, input.byteLength) >>> 0;
		if (wasm.ZSTD_isError(written)) {
			throw new RasterInputError("invalid-raster", `ZSTD: the block does not decode (error ${-(written | 0)})`);
		}
		return new Uint8Array(wasm.memory.buffer, destinationAt, written);
	};

	function keptAllocation(): { atLeast(bytes: number): number } {
		let at = 0;
		let size = 0;
		return {
			atLeast(bytes) {
				if (at !== 0 && bytes <= size) return at;
				if (at !== 0) wasm.free(at);
				// malloc(0) may answer 0, which would read as a failure.
				at = wasm.malloc(Math.max(bytes, 1));
				size = at === 0 ? 0 : bytes;
				if (at === 0) throw new Error("ZSTD: out of Wasm memory");
				return at;
			},
		};
	}

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
