// The Worker's instances of the decoder Wasm modules (EO Edge's block decoders and zstd's):
// made on first use and kept between heavy tasks of one stage and job (src/wasm/instances.ts).
import decodeModule from "../../wasm/build/decode.wasm";
import zstdModule from "../../wasm/build/zstd.wasm";
import type { Codecs } from "../raster/decoders";
import { type BlockDecoder, codecsOf, createBlockDecoder } from "./decode";
import { releasable } from "./instances";
import { createZstdDecode } from "./zstd";

const blockDecoder = releasable(
	() => createBlockDecoder(decodeModule),
	(decoder) => decoder.holdsBlocks(),
);
const zstdInstance = releasable(() => createZstdDecode(zstdModule));

/** The Worker's block decoder (made again after a release), for a synchronous inflate or predictor. */
export const workerBlockDecoder = (): BlockDecoder => blockDecoder.get();

export const workerCodecs: Codecs = codecsOf(
	() => blockDecoder.get(),
	() => zstdInstance.get(),
);
