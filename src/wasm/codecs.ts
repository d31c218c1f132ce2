// The Worker's instance of each decoder Wasm module: made on first use and released between
// heavy tasks (src/wasm/instances.ts).
import zstdModule from "../../wasm/build/zstd.wasm";
import { releasable } from "./instances";
import { createZstdDecode, type ZstdDecode } from "./zstd";

const zstdInstance = releasable(() => createZstdDecode(zstdModule));

export const zstdDecode: ZstdDecode = (...args) => zstdInstance.get()(...args);
