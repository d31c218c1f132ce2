// The one place that talks to the band-math Wasm kernels (wasm/assembly/kernels.ts): it
// instantiates a compiled module, owns its linear memory and lays buffers out after the
// module's static data. Callers get typed views of that memory (an arena) to copy decoded
// pixels into, and read the result, and its statistics, where the evaluator wrote them.
import { INSTRUCTION_WORDS, MAX_REGISTERS, opcodes, PAIR_BASE, type Program } from "../formula/compile";
import { SAMPLE_ARRAYS, type SampleArray, type SampleType } from "../raster/samples";
import { instantiate } from "./instances";

/** The raw ABI of kernels.wasm: every pointer is a byte offset into `memory`. */
interface KernelExports {
	readonly memory: WebAssembly.Memory;
	heap_base(): number;
	register_bytes(): number;
	evaluate(
		code: number,
		codeWords: number,
		inputs: number,
		inputCount: number,
		constants: number,
		constantCount: number,
		resultRegister: number,
		registers: number,
		out: number,
		n: number,
		stats: number,
	): void;
	stats_record_bytes(): number;
	output_stats(values: number, n: number, stats: number): void;
	sketch_take(): number;
	sketch_pairs(): number;
	sketch_clear(taken: number): void;
	bin_values(values: number, n: number, first: number, last: number, bins: number, counts: number): void;
	undo_float_predictor(source: number, width: number, rows: number, target: number): void;
}

/** Uniform histogram bins over [first, last], as numpy.histogram(bins, range=(first, last)). */
export interface HistogramSpec {
	first: number;
	last: number;
	bins: number;
}

/** Counts of values over fixed edges, as numpy.histogram(values, bins, range=(first, last)). */
export interface HistogramCounts {
	counts: number[];
	/** Valid values below the first edge, in no bin. */
	below: number;
	/** Valid values above the last edge, in no bin. */
	above: number;
}

/**
 * Statistics of the valid values of one window (NaN is nodata): exact count, extremes, sum and
 * m2, the quantile sketch's counts, and a histogram when one was asked for.
 */
export interface WindowStats {
	count: number;
	nodata_count: number;
	/** null when count is 0. */
	min: number | null;
	/** null when count is 0. */
	max: number | null;
	/** 0 when count is 0. */
	sum: number;
	/** Sum of squared deviations from the mean; 0 when count is 0. */
	m2: number;
	/**
	 * The quantile sketch: (key, count) pairs, keys ascending, where a value's key is the top
	 * 16 bits of its float32 (src/pipeline/publish/quantile-sketch.ts reads them).
	 */
	sketch: Uint32Array;
	histogram: HistogramCounts | null;
}

/** How the evaluator reads one input: its nodata value (in the samples' type) and linear scaling. */
export interface InputScaling {
	nodata: number | null;
	/** The value the formula sees is sample * scale + offset, in float32 (scale and offset rounded to it). */
	scale: number;
	offset: number;
}

/** The pixel buffers of one evaluation: how many pixels, and each input's sample type. */
export interface ArenaLayout {
	pixels: number;
	inputs: readonly { type: SampleType }[];
}

/**
 * Typed views of Wasm memory for one window: fill `inputs`, evaluate, read `output`. The views
 * are valid until the next arena is made, which reuses (and may grow, detaching) the memory, so
 * an arena must not be held across an `await` that could let another one be made. A new arena
 * holds nothing of earlier ones: every byte of it is {@link ARENA_FILL_BYTE}.
 */
export interface Arena {
	/** One view per input of the layout, `pixels` long, in the input's own sample type. */
	readonly inputs: readonly SampleArray[];
	/** `pixels` float32 values, written by {@link Arena.evaluate}. */
	readonly output: Float32Array;
	/**
	 * Runs a compiled formula over every pixel of the inputs into `output`, in float32: NaN where
	 * an input is nodata (compared in the band's own sample type, as GDAL does), NaN or infinite,
	 * and where the result is NaN or infinite. `scaling` is given per input, in the program's input
	 * order. Returns `output`.
	 */
	evaluate(program: Program, scaling: readonly InputScaling[]): Float32Array;
	/**
	 * {@link Arena.evaluate}, with the output's statistics gathered block by block as it is
	 * written (binned over `histogram` too, when given).
	 */
	evaluateWithStats(program: Program, scaling: readonly InputScaling[], histogram: HistogramSpec | null): WindowStats;
	/** The statistics of `output` as it is now, read in place. */
	outputStats(histogram: HistogramSpec | null): WindowStats;
	/** Adds the valid values of `output` to `histogram`'s counts, read in place. */
	addToHistogram(spec: HistogramSpec, histogram: HistogramCounts): void;
	/**
	 * Reads the one float32 input's bytes as a tile of `width` (a multiple of 16) x `rows`
	 * values stored with TIFF's floating-point predictor, and writes the values to `output`.
	 * The input's bytes are changed.
	 */
	undoFloatingPointPredictor(width: number, rows: number): Float32Array;
}

export interface Kernels {
	/** Lays out views for one window's inputs and output; the previous arena stops being valid. */
	arena(layout: ArenaLayout): Arena;
}

const WASM_PAGE_BYTES = 65536;
const INPUT_DESCRIPTOR_BYTES = 32;
/**
 * Bytes kept at the start of the heap for one call's bookkeeping (the program, its register file
 * and input descriptors), so calls never move or overwrite the pixels: the largest register file
 * (MAX_REGISTERS blocks of 1 KiB) and as much again for the code, constants and descriptors
 * (formulas of the longest allowed text, built of unrolled powers, compile to under 20 KiB of
 * code). Calls that need more are refused.
 */
const SCRATCH_BYTES = 2 * MAX_REGISTERS * 1024;
/** The evaluator reads and writes in steps of 16 pixels, up to 15 elements past the end. */
const LANE_SLACK_BYTES = 16 * 8;
/** What every byte of a new arena holds until the caller writes it. */
export const ARENA_FILL_BYTE = 0xff;
/** The most bins a histogram may have. */
export const MAX_HISTOGRAM_BINS = 1000;
/** Keys of the quantile sketch: every 16-bit prefix of a float32. */
const SKETCH_KEYS = 65536;
/** The sketch's four tables of counters, the kernels module's static data. */
export const SKETCH_TABLE_BYTES = 4 * SKETCH_KEYS * 4;
/**
 * What an arena holds besides its pixels: the statistics record and a histogram's counts. The
 * sketch's tables (SKETCH_TABLE_BYTES) are the module's static data, and its pairs are taken out
 * over them.
 */
export const ARENA_STATISTICS_BYTES = 128 + (MAX_HISTOGRAM_BINS + 2) * 4;

/** Sample type codes of wasm/assembly/kernels.ts. */
const sampleTypes: Record<SampleType, { code: number; min: number | null; max: number | null }> = {
	uint8: { code: 1, min: 0, max: 0xff },
	int8: { code: 2, min: -0x80, max: 0x7f },
	uint16: { code: 3, min: 0, max: 0xffff },
	int16: { code: 4, min: -0x8000, max: 0x7fff },
	uint32: { code: 5, min: 0, max: 0xffffffff },
	int32: { code: 6, min: -0x80000000, max: 0x7fffffff },
	float32: { code: 7, min: null, max: null },
	float64: { code: 8, min: null, max: null },
};

/**
 * The nodata value the evaluator compares with, or null when no sample can equal it: GDAL
 * casts nodata to the band's type, so 0.5 or -1 never match an unsigned integer band.
 */
function comparableNodata(type: SampleType, nodata: number | null): number | null {
	const { min, max } = sampleTypes[type];
	if (nodata === null || min === null || max === null) return nodata;
	return Number.isInteger(nodata) && nodata >= min && nodata <= max ? nodata : null;
}

/** Rejects programs that would read or write registers they did not declare. */
function checkProgram(program: Program, inputCount: number): void {
	const { code, constants, registers, result, inputs, rawOf = [] } = program;
	const opcodeValues: readonly number[] = Object.values(opcodes);
	const isOpcode = (word: number) => opcodeValues.includes(word) || (word >= PAIR_BASE && word < PAIR_BASE + 32);
	const register = (r: number | undefined) => Number.isInteger(r) && (r as number) >= 0 && (r as number) < registers;
	const valid =
		inputs === inputCount &&
		rawOf.every((input) => Number.isInteger(input) && input >= 0 && input < inputs) &&
		registers <= MAX_REGISTERS &&
		inputs + rawOf.length + constants.length <= registers &&
		register(result) &&
		code.length % INSTRUCTION_WORDS === 0 &&
		code.every((word, i) => (i % INSTRUCTION_WORDS === 0 ? isOpcode(word) : register(word))) &&
		code.every((_, i) => i % INSTRUCTION_WORDS !== 0 || operandsPaired(code, i, registers)) &&
		// The evaluator writes the last instruction's destination to the output.
		(code.length === 0 || code[code.length - INSTRUCTION_WORDS + 1] === result);
	if (!valid) throw new RangeError(`invalid program for ${inputCount} inputs`);
}

/**
 * Whether the slot at word `i` keeps the operands rule: an operands slot is followed by a
 * scaledRatio instruction, which is preceded by one and whose constants k, k + 1, k + 2 exist.
 */
function operandsPaired(code: readonly number[], i: number, registers: number): boolean {
	if (code[i] === opcodes.operands) {
		return code[i + INSTRUCTION_WORDS] === opcodes.scaledRatio && (code[i + 4] as number) + 2 < registers;
	}
	if (code[i] !== opcodes.scaledRatio) return true;
	return i >= INSTRUCTION_WORDS && code[i - INSTRUCTION_WORDS] === opcodes.operands;
}

/**
 * Instantiates the kernels module and checks that it has the expected exports, so a
 * stale build fails here rather than at the first call.
 */
function instantiateKernelExports(module: WebAssembly.Module): KernelExports {
	const { exports } = instantiate(module);
	const functionNames = [
		"heap_base",
		"register_bytes",
		"evaluate",
		"stats_record_bytes",
		"output_stats",
		"sketch_take",
		"sketch_pairs",
		"sketch_clear",
		"bin_values",
		"undo_float_predictor",
	];
	const missing = functionNames.filter((name) => typeof exports[name] !== "function");
	if (!(exports.memory instanceof WebAssembly.Memory) || missing.length > 0) {
		throw new Error(`kernels.wasm lacks exports: ${["memory", ...missing].join(", ")}`);
	}
	return exports as unknown as KernelExports;
}

/**
 * Instantiates the kernels once and hands out arenas that reuse its memory, growing it when
 * a window needs more. Every call is synchronous, so a call never sees another's bookkeeping.
 */
export function createKernels(module: WebAssembly.Module): Kernels {
	const wasm = instantiateKernelExports(module);
	const scratch = alignTo16(wasm.heap_base());
	const pixelsBase = scratch + SCRATCH_BYTES;
	const registerBytes = wasm.register_bytes();
	const recordBytes = alignTo16(wasm.stats_record_bytes());
	/** Counts the arenas made, so a stale one refuses to run on memory a newer one owns. */
	let arenasMade = 0;

	return {
		arena({ pixels, inputs }) {
			if (!Number.isInteger(pixels) || pixels < 0) throw new RangeError(`pixels must be a whole number, got ${pixels}`);
			const arenaNumber = ++arenasMade;
			// Every buffer starts 16-byte aligned for v128 loads and has the slack the evaluator's
			// last 16-pixel step reads or writes past the end.
			let next = pixelsBase;
			const inputAt = inputs.map(({ type }) => {
				const at = next;
				next += alignTo16(pixels * SAMPLE_ARRAYS[type].BYTES_PER_ELEMENT + LANE_SLACK_BYTES);
				return at;
			});
			const outputAt = next;
			const recordAt = alignTo16(outputAt + pixels * 4 + LANE_SLACK_BYTES);
			const histogramAt = recordAt + recordBytes;
			const end = alignTo16(histogramAt + (MAX_HISTOGRAM_BINS + 2) * 4);
			if (end - recordAt > ARENA_STATISTICS_BYTES) throw new Error("the statistics outgrew ARENA_STATISTICS_BYTES");
			if (end > wasm.memory.buffer.byteLength) {
				wasm.memory.grow(Math.ceil((end - wasm.memory.buffer.byteLength) / WASM_PAGE_BYTES));
			}
			// grow() detaches every earlier view, so this arena's views are made after it.
			const buffer = wasm.memory.buffer;
			// The memory still holds the last window's pixels, possibly another job's: a sample the
			// caller fails to write must not be one of them. All-ones bytes are NaN in either float
			// type, which the evaluator reads as nodata.
			new Uint8Array(buffer, pixelsBase, end - pixelsBase).fill(ARENA_FILL_BYTE);
			const inputViews = inputs.map(({ type }, i) => new SAMPLE_ARRAYS[type](buffer, inputAt[i] as number, pixels));
			const output = new Float32Array(buffer, outputAt, pixels);

			const checkCurrent = () => {
				if (arenaNumber !== arenasMade) throw new Error("a newer arena reuses this arena's memory");
			};
			const checkScratchFits = (bytes: number) => {
				if (bytes > SCRATCH_BYTES)
					throw new RangeError(`a call needs ${bytes} bytes of scratch, more than ${SCRATCH_BYTES}`);
			};

			/**
			 * Writes the program and input descriptors to scratch; returns the evaluator's arguments.
			 * The program's raw registers are more inputs to the evaluator: the same samples, unscaled.
			 */
			const prepare = (program: Program, scaling: readonly InputScaling[]) => {
				checkCurrent();
				checkProgram(program, inputs.length);
				if (scaling.length !== inputs.length) {
					throw new RangeError(`${scaling.length} input scalings for ${inputs.length} inputs`);
				}
				const loaded = [
					...scaling.map((inputScaling, i) => ({ input: i, ...inputScaling })),
					...(program.rawOf ?? []).map((input) => ({
						input,
						...(scaling[input] as InputScaling),
						scale: 1,
						offset: 0,
					})),
				];
				const registersPtr = scratch;
				const codePtr = registersPtr + program.registers * registerBytes;
				const constantsPtr = codePtr + alignTo16(program.code.length * 4);
				const descriptorsPtr = constantsPtr + alignTo16(program.constants.length * 4);
				checkScratchFits(descriptorsPtr + loaded.length * INPUT_DESCRIPTOR_BYTES - scratch);
				new Int32Array(buffer, codePtr, program.code.length).set(program.code);
				new Float32Array(buffer, constantsPtr, program.constants.length).set(
					program.constants.map((value) => value ?? Number.NaN),
				);
				const descriptors = new DataView(buffer, descriptorsPtr, loaded.length * INPUT_DESCRIPTOR_BYTES);
				loaded.forEach(({ input, nodata: givenNodata, scale, offset }, i) => {
					const { type } = inputs[input] as { type: SampleType };
					const nodata = comparableNodata(type, givenNodata);
					const at = i * INPUT_DESCRIPTOR_BYTES;
					descriptors.setUint32(at, inputAt[input] as number, true);
					descriptors.setUint32(at + 4, sampleTypes[type].code, true);
					descriptors.setUint32(at + 8, nodata === null ? 0 : 1, true);
					descriptors.setFloat64(at + 16, nodata ?? 0, true);
					descriptors.setFloat32(at + 24, scale, true);
					descriptors.setFloat32(at + 28, offset, true);
				});
				return [
					codePtr,
					program.code.length,
					descriptorsPtr,
					loaded.length,
					constantsPtr,
					program.constants.length,
					program.result,
					registersPtr,
					outputAt,
					pixels,
				] as const;
			};

			/** Starts a statistics record: nothing counted, binning over `histogram` if given. */
			const startRecord = (histogram: HistogramSpec | null) => {
				const record = new DataView(buffer, recordAt, recordBytes);
				record.setFloat64(0, 0, true);
				record.setFloat64(8, Number.NaN, true);
				record.setFloat64(16, 0, true);
				record.setFloat64(24, 0, true);
				record.setFloat64(32, Number.POSITIVE_INFINITY, true);
				record.setFloat64(40, Number.NEGATIVE_INFINITY, true);
				record.setUint32(52, histogram ? histogramAt : 0, true);
				if (histogram) {
					checkHistogram(histogram);
					new Uint32Array(buffer, histogramAt, histogram.bins + 2).fill(0);
					record.setInt32(56, histogram.bins, true);
					record.setFloat64(64, histogram.first, true);
					record.setFloat64(72, histogram.last, true);
				}
				return recordAt;
			};

			/** Reads a finished record, and takes the sketch's counts out (zeroing its tables). */
			const finishRecord = (histogram: HistogramSpec | null): WindowStats => {
				const record = new DataView(buffer, recordAt, recordBytes);
				const count = record.getFloat64(0, true);
				const shift = record.getFloat64(8, true);
				const shiftedSum = record.getFloat64(16, true);
				const shiftedSquares = record.getFloat64(24, true);
				const pairCount = wasm.sketch_take();
				const sketch = new Uint32Array(buffer, wasm.sketch_pairs(), pairCount * 2).slice();
				wasm.sketch_clear(pairCount);
				const counts = histogram ? new Uint32Array(buffer, histogramAt, histogram.bins + 2) : null;
				return {
					count,
					nodata_count: pixels - count,
					min: count === 0 ? null : record.getFloat64(32, true),
					max: count === 0 ? null : record.getFloat64(40, true),
					// Sums of deviations from the window's first valid value, which keep m2's digits.
					sum: count === 0 ? 0 : count * shift + shiftedSum,
					m2: count === 0 ? 0 : Math.max(0, shiftedSquares - (shiftedSum * shiftedSum) / count),
					sketch,
					histogram:
						histogram && counts
							? {
									counts: Array.from(counts.subarray(0, histogram.bins)),
									below: counts[histogram.bins] ?? 0,
									above: counts[histogram.bins + 1] ?? 0,
								}
							: null,
				};
			};

			return {
				inputs: inputViews,
				output,

				evaluate(program, scaling) {
					// One call over the whole window: the evaluator walks it in register blocks itself.
					wasm.evaluate(...prepare(program, scaling), 0);
					return output;
				},

				evaluateWithStats(program, scaling, histogram) {
					const args = prepare(program, scaling);
					wasm.evaluate(...args, startRecord(histogram));
					return finishRecord(histogram);
				},

				outputStats(histogram) {
					checkCurrent();
					wasm.output_stats(outputAt, pixels, startRecord(histogram));
					return finishRecord(histogram);
				},

				undoFloatingPointPredictor(width, rows) {
					checkCurrent();
					const [input] = inputs;
					if (inputs.length !== 1 || input?.type !== "float32" || width * rows !== pixels || width % 16 !== 0) {
						throw new RangeError(`a ${width} x ${rows} tile needs one float32 input of as many pixels`);
					}
					wasm.undo_float_predictor(inputAt[0] as number, width, rows, outputAt);
					return output;
				},

				addToHistogram(spec, histogram) {
					checkCurrent();
					checkHistogram(spec);
					if (histogram.counts.length !== spec.bins) {
						throw new RangeError(`${histogram.counts.length} counts for ${spec.bins} bins`);
					}
					const counts = new Uint32Array(buffer, histogramAt, spec.bins + 2);
					counts.fill(0);
					wasm.bin_values(outputAt, pixels, spec.first, spec.last, spec.bins, histogramAt);
					for (let bin = 0; bin < spec.bins; bin++) {
						histogram.counts[bin] = (histogram.counts[bin] ?? 0) + (counts[bin] ?? 0);
					}
					histogram.below += counts[spec.bins] ?? 0;
					histogram.above += counts[spec.bins + 1] ?? 0;
				},
			};
		},
	};
}

function checkHistogram({ first, last, bins }: HistogramSpec): void {
	if (!Number.isInteger(bins) || bins < 1 || bins > MAX_HISTOGRAM_BINS) {
		throw new RangeError(`histogram bins must be a whole number in 1..${MAX_HISTOGRAM_BINS}, got ${bins}`);
	}
	if (!(Number.isFinite(first) && Number.isFinite(last) && first < last)) {
		throw new RangeError(`histogram range must be finite with first < last, got [${first}, ${last}]`);
	}
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
