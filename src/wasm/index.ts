// The Worker's single instance of the band-math kernels, created once per isolate.
import kernelsModule from "../../wasm/build/kernels.wasm";
import { createKernels } from "./kernels";

export const kernels = createKernels(kernelsModule);
