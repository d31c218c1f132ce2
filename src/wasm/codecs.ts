// The Worker's single instance of each decoder Wasm module, created once per isolate.
import zstdModule from "../../wasm/build/zstd.wasm";
import { createZstdDecode } from "./zstd";

export const zstdDecode = createZstdDecode(zstdModule);
