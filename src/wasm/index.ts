// The Worker's instances of the band-math kernels and of the tile encoder: made on first use
// and kept between heavy tasks of one stage and job (src/wasm/instances.ts).
import deflateModule from "../../wasm/build/deflate.wasm";
import kernelsModule from "../../wasm/build/kernels.wasm";
import { createTileEncoder, type TileEncoder } from "./deflate";
import { releasable } from "./instances";
import { createKernels, type Kernels } from "./kernels";

const kernelsInstance = releasable(() => createKernels(kernelsModule));
const tileEncoderInstance = releasable(
	() => createTileEncoder(deflateModule),
	(encoder) => encoder.holdsStreams(),
);

export const kernels: Kernels = { arena: (layout) => kernelsInstance.get().arena(layout) };
export const tileEncoder: TileEncoder = {
	add: (...args) => tileEncoderInstance.get().add(...args),
	take: () => tileEncoderInstance.get().take(),
	holdsStreams: () => tileEncoderInstance.get().holdsStreams(),
};
