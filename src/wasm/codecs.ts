// The Worker's instances of the decoder Wasm modules (EO Edge's block decoders and zstd's):
// made on first use and released between heavy tasks (src/wasm/instances.ts).
import decodeModule from "../../wasm/build/decode.wasm";
import zstdModule from "../../wasm/build/zstd.wasm";
import type { Codecs } from "../raster/decoders";
import { codecsOf, createBlockDecoder } from "./decode";
import { releasable } from "./instances";
import { createZstdDecode } from "./zstd";

const blockDecoder = releasable(() => createBlockDecoder(decodeModule));
const zstdInstance = releasable(() => createZstdDecode(zstdModule));

/** Inflates a zlib stream of at most `maxBytes` synchronously, in the block decoder's Wasm. */
export const inflateBlock = (input: Uint8Array, maxBytes: number): Uint8Array<ArrayBuffer> =>
	blockDecoder.get().inflate(input, maxBytes);

export const workerCodecs: Codecs = codecsOf(
	() => blockDecoder.get(),
	() => zstdInstance.get(),
);
