// The one place that talks to the band-math Wasm kernels (wasm/assembly/kernels.ts):
// it instantiates a compiled module, owns its linear memory, lays buffers out after the
// module's static data, copies inputs in as float32 and copies results out.

/** The raw ABI of kernels.wasm: every pointer is a byte offset into `memory`. */
export interface KernelExports {
	readonly memory: WebAssembly.Memory;
	heap_base(): number;
	normalized_difference(
		a: number,
		b: number,
		out: number,
		n: number,
		nodataA: number,
		hasNodataA: number,
		nodataB: number,
		hasNodataB: number,
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

export interface Kernels {
	/**
	 * (a - b) / (a + b) per pixel in float32, bit-identical to numpy's float32 result.
	 * NaN where a equals nodataA, b equals nodataB, a + b is 0, an input is NaN or the
	 * ratio is not finite. Nodata is compared in the band's own sample type, as GDAL does.
	 * Returns `out` when given, otherwise a new array; never a view of Wasm memory.
	 */
	normalizedDifference(
		a: NumericArray,
		b: NumericArray,
		nodataA: number | null,
		nodataB: number | null,
		out?: Float32Array,
	): Float32Array;
	/** Count, extremes, sum, m2 and histogram of the finite values of one strip. */
	stripStats(values: Float32Array, histogram: HistogramSpec): StripStats;
}

const WASM_PAGE_BYTES = 65536;
const RESULT_SLOTS = 6;

/**
 * Instantiates the kernels module and checks that it has the expected exports, so a
 * stale build fails here rather than at the first call.
 */
export function instantiateKernelExports(module: WebAssembly.Module): KernelExports {
	const { exports } = new WebAssembly.Instance(module, {});
	const functionNames = ["heap_base", "normalized_difference", "strip_stats"];
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

	function ensureBytes(end: number): ArrayBuffer {
		const available = wasm.memory.buffer.byteLength;
		if (end > available) {
			wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		}
		// grow() detaches the old buffer, so views are made only after it.
		return wasm.memory.buffer;
	}

	return {
		normalizedDifference(a, b, nodataA, nodataB, out) {
			const n = a.length;
			if (b.length !== n) {
				throw new RangeError(`band lengths differ: a has ${n} values, b has ${b.length}`);
			}
			if (out !== undefined && out.length !== n) {
				throw new RangeError(`output length ${out.length} differs from band length ${n}`);
			}
			const aPtr = base;
			const bPtr = aPtr + alignTo16(n * 4);
			const buffer = ensureBytes(bPtr + n * 4);
			const aView = new Float32Array(buffer, aPtr, n);
			const kernelNodataA = copyBand(a, aView, nodataA);
			const kernelNodataB = copyBand(b, new Float32Array(buffer, bPtr, n), nodataB);
			// The result overwrites a in place, which keeps the Wasm memory peak at two bands.
			wasm.normalized_difference(
				aPtr,
				bPtr,
				aPtr,
				n,
				kernelNodataA ?? 0,
				kernelNodataA === null ? 0 : 1,
				kernelNodataB ?? 0,
				kernelNodataB === null ? 0 : 1,
			);
			if (out === undefined) return aView.slice();
			out.set(aView);
			return out;
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

/**
 * Copies a band into Wasm memory as float32 (TypedArray.set converts natively) and returns
 * the nodata value the kernel should compare in float32. Bands wider than float32's 24-bit
 * mantissa (32-bit integers, Float64) would let neighbours of nodata round onto it, so their
 * nodata pixels are set to NaN here, compared in the band's own type, and the kernel gets none.
 */
function copyBand(band: NumericArray, target: Float32Array, nodata: number | null): number | null {
	target.set(band);
	const wide = band instanceof Int32Array || band instanceof Uint32Array || band instanceof Float64Array;
	if (nodata === null || !wide) return nodata;
	for (let i = 0; i < band.length; i++) {
		if (band[i] === nodata) target[i] = Number.NaN;
	}
	return null;
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
