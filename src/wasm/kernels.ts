// The one place that talks to the band-math Wasm kernels (wasm/assembly/kernels.ts): it
// instantiates a compiled module, owns its linear memory and lays buffers out after the
// module's static data. Callers get typed views of that memory (an arena) to decode pixels
// into, and read the result where the evaluator wrote it: no pixel is copied in or out.
import { INSTRUCTION_WORDS, MAX_REGISTERS, opcodes, PAIR_BASE, type Program } from "../formula/compile";
import { SAMPLE_ARRAYS, type SampleArray, type SampleType } from "../raster/samples";

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
	): void;
	strip_stats(
		values: number,
		n: number,
		histFirst: number,
		histLast: number,
		bins: number,
		counts: number,
		result: number,
	): void;
}

/** Uniform histogram bins over [first, last], as numpy.histogram(bins, range=(first, last)). */
export interface HistogramSpec {
	first: number;
	last: number;
	bins: number;
}

/** Statistics of the finite values of one strip; non-finite values are nodata. */
export interface StripStats {
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
	histogram_counts: number[];
	below_range: number;
	above_range: number;
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
	/** Count, extremes, sum, m2 and histogram of the finite values of `output`, read in place. */
	outputStats(histogram: HistogramSpec): StripStats;
}

export interface Kernels {
	/** Lays out views for one window's inputs and output; the previous arena stops being valid. */
	arena(layout: ArenaLayout): Arena;
}

const WASM_PAGE_BYTES = 65536;
const RESULT_SLOTS = 6;
const INPUT_DESCRIPTOR_BYTES = 32;
/**
 * Bytes kept at the start of the heap for one call's bookkeeping (the program, its register file
 * and input descriptors, or a histogram's counts), so calls never move or overwrite the pixels:
 * the largest register file (MAX_REGISTERS blocks of 1 KiB) and as much again for the code,
 * constants and descriptors (formulas of the longest allowed text, built of unrolled powers,
 * compile to under 20 KiB of code) or for up to 65 000 histogram bins. Calls that need more are
 * refused.
 */
const SCRATCH_BYTES = 2 * MAX_REGISTERS * 1024;
/** The evaluator reads and writes in steps of 16 pixels, up to 15 elements past the end. */
const LANE_SLACK_BYTES = 16 * 8;
/** What every byte of a new arena holds until the caller writes it. */
export const ARENA_FILL_BYTE = 0xff;

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
	const { code, constants, registers, result, inputs } = program;
	const opcodeValues: readonly number[] = Object.values(opcodes);
	const isOpcode = (word: number) => opcodeValues.includes(word) || (word >= PAIR_BASE && word < PAIR_BASE + 32);
	const register = (r: number | undefined) => Number.isInteger(r) && (r as number) >= 0 && (r as number) < registers;
	const valid =
		inputs === inputCount &&
		registers <= MAX_REGISTERS &&
		inputs + constants.length <= registers &&
		register(result) &&
		code.length % INSTRUCTION_WORDS === 0 &&
		code.every((word, i) => (i % INSTRUCTION_WORDS === 0 ? isOpcode(word) : register(word))) &&
		// The evaluator writes the last instruction's destination to the output.
		(code.length === 0 || code[code.length - INSTRUCTION_WORDS + 1] === result);
	if (!valid) throw new RangeError(`invalid program for ${inputCount} inputs`);
}

/**
 * Instantiates the kernels module and checks that it has the expected exports, so a
 * stale build fails here rather than at the first call.
 */
function instantiateKernelExports(module: WebAssembly.Module): KernelExports {
	const { exports } = new WebAssembly.Instance(module, {});
	const functionNames = ["heap_base", "register_bytes", "evaluate", "strip_stats"];
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
			const end = outputAt + pixels * 4 + LANE_SLACK_BYTES;
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

			return {
				inputs: inputViews,
				output,

				evaluate(program, scaling) {
					checkCurrent();
					checkProgram(program, inputs.length);
					if (scaling.length !== inputs.length) {
						throw new RangeError(`${scaling.length} input scalings for ${inputs.length} inputs`);
					}
					const registersPtr = scratch;
					const codePtr = registersPtr + program.registers * registerBytes;
					const constantsPtr = codePtr + alignTo16(program.code.length * 4);
					const descriptorsPtr = constantsPtr + alignTo16(program.constants.length * 4);
					checkScratchFits(descriptorsPtr + inputs.length * INPUT_DESCRIPTOR_BYTES - scratch);
					new Int32Array(buffer, codePtr, program.code.length).set(program.code);
					new Float32Array(buffer, constantsPtr, program.constants.length).set(program.constants);
					const descriptors = new DataView(buffer, descriptorsPtr, inputs.length * INPUT_DESCRIPTOR_BYTES);
					inputs.forEach(({ type }, i) => {
						const { nodata: givenNodata, scale, offset } = scaling[i] as InputScaling;
						const nodata = comparableNodata(type, givenNodata);
						const at = i * INPUT_DESCRIPTOR_BYTES;
						descriptors.setUint32(at, inputAt[i] as number, true);
						descriptors.setUint32(at + 4, sampleTypes[type].code, true);
						descriptors.setUint32(at + 8, nodata === null ? 0 : 1, true);
						descriptors.setFloat64(at + 16, nodata ?? 0, true);
						descriptors.setFloat32(at + 24, scale, true);
						descriptors.setFloat32(at + 28, offset, true);
					});
					// One call over the whole window: the evaluator walks it in register blocks itself.
					wasm.evaluate(
						codePtr,
						program.code.length,
						descriptorsPtr,
						inputs.length,
						constantsPtr,
						program.constants.length,
						program.result,
						registersPtr,
						outputAt,
						pixels,
					);
					return output;
				},

				outputStats({ first, last, bins }) {
					checkCurrent();
					if (!Number.isInteger(bins) || bins < 1) {
						throw new RangeError(`histogram bins must be a positive integer, got ${bins}`);
					}
					if (!(Number.isFinite(first) && Number.isFinite(last) && first < last)) {
						throw new RangeError(`histogram range must be finite with first < last, got [${first}, ${last}]`);
					}
					const slotCount = bins + 2;
					const resultPtr = scratch;
					const countsPtr = resultPtr + alignTo16(RESULT_SLOTS * 8);
					checkScratchFits(countsPtr + slotCount * 4 - scratch);
					const counts = new Uint32Array(buffer, countsPtr, slotCount);
					// The kernel adds to the counts so strips could share them; each call starts fresh.
					counts.fill(0);
					wasm.strip_stats(outputAt, pixels, first, last, bins, countsPtr, resultPtr);
					const [count = 0, nodataCount = 0, min = 0, max = 0, sum = 0, m2 = 0] = new Float64Array(
						buffer,
						resultPtr,
						RESULT_SLOTS,
					);
					return {
						count,
						nodata_count: nodataCount,
						min: count === 0 ? null : min,
						max: count === 0 ? null : max,
						sum,
						m2,
						histogram_counts: Array.from(counts.subarray(0, bins)),
						below_range: counts[bins] ?? 0,
						above_range: counts[bins + 1] ?? 0,
					};
				},
			};
		},
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
