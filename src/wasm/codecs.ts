// The Worker's instance of EO Edge's block decoders (wasm/assembly/decode.ts): made on first
// use and released between heavy tasks (src/wasm/instances.ts).
import decodeModule from "../../wasm/build/decode.wasm";
import type { Codecs } from "../raster/decoders";
import { zstdNative } from "../raster/zstd";
import { codecsOf, createBlockDecoder } from "./decode";
import { releasable } from "./instances";

const blockDecoder = releasable(() => createBlockDecoder(decodeModule));

export const workerCodecs: Codecs = codecsOf(() => blockDecoder.get(), zstdNative);
