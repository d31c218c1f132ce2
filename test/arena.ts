// Runs the Wasm kernels through an arena as compute does, for tests that hold their samples in
// plain arrays: the samples are copied into the arena's views and the results copied out, so a
// test can keep them while later calls reuse the memory.
import type { Program } from "../src/formula/compile";
import { type SampleArray, sampleTypeOf } from "../src/raster/samples";
import { kernels } from "../src/wasm/index";
import type { HistogramSpec, InputScaling, WindowStats } from "../src/wasm/kernels";

export interface SampleInput extends InputScaling {
	data: SampleArray;
}

/** The program over `inputs` (equal lengths, in the program's input order), as a new array. */
export function evaluateCopied(program: Program, inputs: readonly SampleInput[]): Float32Array {
	const pixels = inputs[0]?.data.length ?? 0;
	const arena = kernels.arena({ pixels, inputs: inputs.map(({ data }) => ({ type: sampleTypeOf(data) })) });
	inputs.forEach(({ data }, i) => {
		if (data.length !== pixels) throw new RangeError(`input lengths differ: ${data.length} and ${pixels}`);
		arena.inputs[i]?.set(data);
	});
	return arena.evaluate(program, inputs).slice();
}

/** Statistics of `values`, copied into an arena's output first. */
export function statsCopied(values: Float32Array, histogram: HistogramSpec | null): WindowStats {
	const arena = kernels.arena({ pixels: values.length, inputs: [] });
	arena.output.set(values);
	return arena.outputStats(histogram);
}
