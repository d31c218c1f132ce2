// The Worker's single instances of the band-math kernels and of the tile encoder, created once
// per isolate.
import deflateModule from "../../wasm/build/deflate.wasm";
import kernelsModule from "../../wasm/build/kernels.wasm";
import { createTileEncoder } from "./deflate";
import { createKernels } from "./kernels";

export const kernels = createKernels(kernelsModule);
export const encodeTile = createTileEncoder(deflateModule);
