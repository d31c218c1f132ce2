// The one place that talks to the band-math Wasm kernels (wasm/assembly/kernels.ts):
// it instantiates a compiled module, owns its linear memory, lays buffers out after the
// module's static data, copies inputs in (in their own sample type) and copies results out.
import { INSTRUCTION_WORDS, MAX_REGISTERS, opcodes, PAIR_BASE, type Program } from "../formula/compile";

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

/** Every sample type a GeoTIFF band can arrive as; values are converted to float32. */
export type NumericArray =
	| Uint8Array
	| Uint8ClampedArray
	| Int8Array
	| Uint16Array
	| Int16Array
	| Uint32Array
	| Int32Array
	| Float32Array
	| Float64Array;

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

/** One input of a formula: its samples, nodata value (in the samples' type) and linear scaling. */
export interface EvaluatorInput {
	data: NumericArray;
	nodata: number | null;
	/** The value the formula sees is sample * scale + offset, in float32 (scale and offset rounded to it). */
	scale: number;
	offset: number;
}

export interface Kernels {
	/**
	 * Runs a compiled formula over every pixel, in float32: NaN where an input is nodata (compared
	 * in the band's own sample type, as GDAL does), NaN or infinite, and where the result is NaN
	 * or infinite. Inputs are given in the program's input order and must have equal lengths.
	 * Returns `out` when given, otherwise a new array; never a view of Wasm memory.
	 */
	evaluate(program: Program, inputs: readonly EvaluatorInput[], out?: Float32Array): Float32Array;
	/** Count, extremes, sum, m2 and histogram of the finite values of one strip. */
	stripStats(values: Float32Array, histogram: HistogramSpec): StripStats;
}

const WASM_PAGE_BYTES = 65536;
const RESULT_SLOTS = 6;
const INPUT_DESCRIPTOR_BYTES = 32;
/**
 * Pixels evaluated per call. Inputs are copied in and the result out a chunk at a time, so
 * the Wasm buffers stay in cache and memory traffic is one read of each input and one write
 * of the result.
 */
const CHUNK_PIXELS = 32768;
/** The evaluator reads and writes in steps of 16 pixels, up to 15 elements past the end. */
const LANE_SLACK_BYTES = 16 * 8;

/** Sample type codes of wasm/assembly/kernels.ts, by the typed array that holds the samples. */
const sampleTypes = [
	{ code: 1, array: Uint8Array, min: 0, max: 0xff },
	{ code: 1, array: Uint8ClampedArray, min: 0, max: 0xff },
	{ code: 2, array: Int8Array, min: -0x80, max: 0x7f },
	{ code: 3, array: Uint16Array, min: 0, max: 0xffff },
	{ code: 4, array: Int16Array, min: -0x8000, max: 0x7fff },
	{ code: 5, array: Uint32Array, min: 0, max: 0xffffffff },
	{ code: 6, array: Int32Array, min: -0x80000000, max: 0x7fffffff },
	{ code: 7, array: Float32Array, min: null, max: null },
	{ code: 8, array: Float64Array, min: null, max: null },
] as const;

function sampleTypeOf(data: NumericArray): (typeof sampleTypes)[number] {
	const type = sampleTypes.find((candidate) => data instanceof candidate.array);
	if (!type) throw new TypeError(`unsupported sample array ${Object.prototype.toString.call(data)}`);
	return type;
}

/**
 * The nodata value the evaluator compares with, or null when no sample can equal it: GDAL
 * casts nodata to the band's type, so 0.5 or -1 never match an unsigned integer band.
 */
function comparableNodata(type: (typeof sampleTypes)[number], nodata: number | null): number | null {
	if (nodata === null || type.min === null) return nodata;
	return Number.isInteger(nodata) && nodata >= type.min && nodata <= type.max ? nodata : null;
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
 * Instantiates the kernels once and returns typed wrappers that reuse its memory,
 * growing it when a call needs more. Calls are synchronous, so buffers never overlap.
 */
export function createKernels(module: WebAssembly.Module): Kernels {
	const wasm = instantiateKernelExports(module);
	const base = alignTo16(wasm.heap_base());
	const registerBytes = wasm.register_bytes();

	function ensureBytes(end: number): ArrayBuffer {
		const available = wasm.memory.buffer.byteLength;
		if (end > available) {
			wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		}
		// grow() detaches the old buffer, so views are made only after it.
		return wasm.memory.buffer;
	}

	return {
		evaluate(program, inputs, out) {
			checkProgram(program, inputs.length);
			const n = inputs[0]?.data.length ?? out?.length ?? 0;
			for (const input of inputs) {
				if (input.data.length !== n) throw new RangeError(`input lengths differ: ${input.data.length} and ${n}`);
			}
			if (out !== undefined && out.length !== n) {
				throw new RangeError(`output length ${out.length} differs from input length ${n}`);
			}
			const result = out ?? new Float32Array(n);
			const registersPtr = base;
			const codePtr = registersPtr + program.registers * registerBytes;
			const constantsPtr = codePtr + alignTo16(program.code.length * 4);
			const descriptorsPtr = constantsPtr + alignTo16(program.constants.length * 4);
			let next = descriptorsPtr + alignTo16(inputs.length * INPUT_DESCRIPTOR_BYTES);
			const chunkPtrs = inputs.map((input) => {
				const at = next;
				next += alignTo16(CHUNK_PIXELS * input.data.BYTES_PER_ELEMENT + LANE_SLACK_BYTES);
				return at;
			});
			const outPtr = next;
			const buffer = ensureBytes(outPtr + CHUNK_PIXELS * 4 + LANE_SLACK_BYTES);

			new Int32Array(buffer, codePtr, program.code.length).set(program.code);
			new Float32Array(buffer, constantsPtr, program.constants.length).set(program.constants);
			const descriptors = new DataView(buffer, descriptorsPtr, inputs.length * INPUT_DESCRIPTOR_BYTES);
			const chunks = inputs.map((input, i) => {
				const type = sampleTypeOf(input.data);
				const nodata = comparableNodata(type, input.nodata);
				const at = i * INPUT_DESCRIPTOR_BYTES;
				descriptors.setUint32(at, chunkPtrs[i] as number, true);
				descriptors.setUint32(at + 4, type.code, true);
				descriptors.setUint32(at + 8, nodata === null ? 0 : 1, true);
				descriptors.setFloat64(at + 16, nodata ?? 0, true);
				descriptors.setFloat32(at + 24, input.scale, true);
				descriptors.setFloat32(at + 28, input.offset, true);
				// A view of the same type, so each chunk is copied in with a plain memcpy.
				const View = input.data.constructor as new (buffer: ArrayBuffer, at: number, length: number) => NumericArray;
				return new View(buffer, chunkPtrs[i] as number, CHUNK_PIXELS);
			});
			const outView = new Float32Array(buffer, outPtr, CHUNK_PIXELS);
			const sources = inputs.map((input) => input.data);
			for (let start = 0; start < n; start += CHUNK_PIXELS) {
				const end = Math.min(n, start + CHUNK_PIXELS);
				for (let i = 0; i < sources.length; i++) {
					(chunks[i] as NumericArray).set((sources[i] as NumericArray).subarray(start, end) as ArrayLike<number>);
				}
				wasm.evaluate(
					codePtr,
					program.code.length,
					descriptorsPtr,
					inputs.length,
					constantsPtr,
					program.constants.length,
					program.result,
					registersPtr,
					outPtr,
					end - start,
				);
				result.set(end - start === CHUNK_PIXELS ? outView : outView.subarray(0, end - start), start);
			}
			return result;
		},

		stripStats(values, { first, last, bins }) {
			if (!Number.isInteger(bins) || bins < 1) {
				throw new RangeError(`histogram bins must be a positive integer, got ${bins}`);
			}
			if (!(Number.isFinite(first) && Number.isFinite(last) && first < last)) {
				throw new RangeError(`histogram range must be finite with first < last, got [${first}, ${last}]`);
			}
			const n = values.length;
			const slotCount = bins + 2;
			const resultPtr = base;
			const countsPtr = resultPtr + alignTo16(RESULT_SLOTS * 8);
			const valuesPtr = countsPtr + alignTo16(slotCount * 4);
			const buffer = ensureBytes(valuesPtr + n * 4);
			const counts = new Uint32Array(buffer, countsPtr, slotCount);
			// The kernel adds to the counts so strips could share them; each call starts fresh.
			counts.fill(0);
			new Float32Array(buffer, valuesPtr, n).set(values);
			wasm.strip_stats(valuesPtr, n, first, last, bins, countsPtr, resultPtr);
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
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
