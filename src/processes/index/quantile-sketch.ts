/**
 * The quantile sketch percentiles are read from: counts of values by key, where a value's key is
 * the top 16 bits of its float32 (sign, exponent, 7 mantissa bits). The Wasm kernels count them
 * as they evaluate (wasm/assembly/kernels.ts, `accumulate`); windows merge by adding counts.
 *
 * A key's values lie in [a, b] with b < a (1 + 2^-7), so the value standing for them,
 * 2ab / (a + b), is within (b - a) / (a + b) < 2^-8 (0.39%) of each of them, relative to the
 * value: the same guarantee as DDSketch's, with its bitwise-linear mapping. It holds for any
 * distribution, at any range, for every magnitude a float32 holds in normal form; values below
 * 2^-126 (1.2e-38) in magnitude stand within that much of themselves.
 *
 * The zonal process fills the same sketch from JavaScript with fractional weights (a pixel's
 * coverage) for fields too large to keep every value (src/processes/zonal/weighted-statistics.ts),
 * and reads weighted percentiles from it by the inverted-CDF rule: the counts are float64 for that.
 *
 * Why not @datadog/sketches-js: its per-value update is a JavaScript call with a logarithm, far
 * from the memory speed the evaluator runs at, and its mappings cannot be computed from a
 * float's bits in Wasm. Counting by key in Wasm, merging and reading here is all a sketch is.
 */

/** Relative error of every value the sketch gives, for the values it stands for. */
export const SKETCH_RELATIVE_ERROR = 2 ** -8;

const KEYS = 65536;
const SIGN_KEY = 0x8000;

/** Magnitude bounds of a key's values: its bits followed by all zeros, and by all ones. */
function keyBounds(key: number): [number, number] {
	const bits = new Uint32Array([((key & 0x7fff) << 16) >>> 0, (((key & 0x7fff) << 16) | 0xffff) >>> 0]);
	const [low = 0, high = 0] = new Float32Array(bits.buffer);
	return [low, high];
}

/** The value standing for a key's values: the one nearest all of them, relative to each. */
export function keyValue(key: number): number {
	const [a, b] = keyBounds(key);
	const magnitude = a === 0 ? 0 : (2 * a * b) / (a + b);
	return key & SIGN_KEY ? -magnitude : magnitude;
}

const keyBits = new Uint32Array(1);
const keyFloat = new Float32Array(keyBits.buffer);

/** A value's key, as the Wasm kernels take it: the top 16 bits of the value as a float32. */
export function sketchKey(value: number): number {
	keyFloat[0] = value;
	return (keyBits[0] as number) >>> 16;
}

/** Bytes of {@link QuantileSketch.toBytes}' bitmap of the keys present: one bit a key. */
const BITMAP_BYTES = KEYS / 8;

/** Keys in the order of their values: negatives from the largest magnitude, then positives. */
function* keysInValueOrder(): Generator<number> {
	for (let key = KEYS - 1; key >= SIGN_KEY; key--) yield key;
	for (let key = 0; key < SIGN_KEY; key++) yield key;
}

/** Sketches added together, and read back as order statistics. */
export class QuantileSketch {
	readonly #counts = new Float64Array(KEYS);
	#total = 0;

	/** Adds a window's (key, count) pairs, as the kernels take them out. */
	add(pairs: Uint32Array): void {
		if (pairs.length % 2 !== 0) throw new RangeError("sketch pairs come in twos");
		for (let i = 0; i < pairs.length; i += 2) {
			const key = pairs[i] as number;
			const count = pairs[i + 1] as number;
			if (key >= KEYS) throw new RangeError(`sketch key ${key} is out of range`);
			this.#counts[key] = (this.#counts[key] ?? 0) + count;
			this.#total += count;
		}
	}

	/** Adds `weight` (> 0, fractional or not) to the key of `value`. */
	addWeighted(value: number, weight: number): void {
		const key = sketchKey(value);
		this.#counts[key] = (this.#counts[key] as number) + weight;
		this.#total += weight;
	}

	/** Adds another sketch's counts. */
	merge(other: QuantileSketch): void {
		const counts = other.#counts;
		for (let key = 0; key < KEYS; key++) {
			const count = counts[key] as number;
			if (count !== 0) this.#counts[key] = (this.#counts[key] as number) + count;
		}
		this.#total += other.#total;
	}

	get count(): number {
		return this.#total;
	}

	/**
	 * Weighted percentiles by the inverted-CDF rule: for each q (0–100), the value standing for the
	 * first key, in value order, whose cumulative weight reaches q/100 of the total. The key holding
	 * the exact weighted percentile is that key, so each is within SKETCH_RELATIVE_ERROR of it.
	 * The total is summed in the same order as the cumulative weights, so q = 100 reaches the last key.
	 */
	weightedPercentiles(qs: readonly number[]): number[] {
		let total = 0;
		for (const key of keysInValueOrder()) total += this.#counts[key] as number;
		if (!(total > 0)) throw new RangeError("a sketch without weight has no percentiles");
		const order = qs.map((_, i) => i).sort((a, b) => (qs[a] as number) - (qs[b] as number));
		const estimates = new Array<number>(qs.length);
		let next = 0;
		let running = 0;
		for (const key of keysInValueOrder()) {
			const count = this.#counts[key] as number;
			if (count === 0) continue;
			running += count;
			while (next < order.length && running >= ((qs[order[next] as number] as number) / 100) * total) {
				estimates[order[next] as number] = keyValue(key);
				next++;
			}
			if (next === order.length) break;
		}
		// Only a q above 100 is left, which no weight reaches.
		if (next < order.length) throw new RangeError(`percentile ${qs[order[next] as number]} is past 100`);
		return estimates;
	}

	/**
	 * Sparse bytes: a bitmap of the keys with a count (8 KiB), then their counts as float64s,
	 * keys ascending, little-endian. At most 8 KiB + 512 KiB, whatever was added.
	 */
	toBytes(): Uint8Array {
		let present = 0;
		for (let key = 0; key < KEYS; key++) if (this.#counts[key] !== 0) present++;
		const bytes = new Uint8Array(BITMAP_BYTES + 8 * present);
		const counts = new Float64Array(bytes.buffer, BITMAP_BYTES, present);
		let at = 0;
		for (let key = 0; key < KEYS; key++) {
			const count = this.#counts[key] as number;
			if (count === 0) continue;
			bytes[key >>> 3] = (bytes[key >>> 3] as number) | (1 << (key & 7));
			counts[at++] = count;
		}
		return bytes;
	}

	/** The sketch {@link toBytes} wrote; `bytes` must start on a multiple of 8 bytes in its buffer. */
	static fromBytes(bytes: Uint8Array): QuantileSketch {
		let present = 0;
		for (let i = 0; i < Math.min(BITMAP_BYTES, bytes.byteLength); i++) {
			for (let byte = bytes[i] as number; byte !== 0; byte &= byte - 1) present++;
		}
		if (bytes.byteLength !== BITMAP_BYTES + 8 * present) {
			throw new RangeError(`a sketch of ${bytes.byteLength} bytes does not hold the counts of ${present} keys`);
		}
		const counts = new Float64Array(bytes.buffer, bytes.byteOffset + BITMAP_BYTES, present);
		const sketch = new QuantileSketch();
		let at = 0;
		for (let key = 0; key < KEYS; key++) {
			if (((bytes[key >>> 3] as number) & (1 << (key & 7))) === 0) continue;
			const count = counts[at++] as number;
			sketch.#counts[key] = count;
			sketch.#total += count;
		}
		return sketch;
	}

	/**
	 * Estimates of the order statistics at 0-based `ranks` (ascending), each within
	 * SKETCH_RELATIVE_ERROR of the true one.
	 */
	orderStatistics(ranks: readonly number[]): number[] {
		const estimates: number[] = [];
		let next = 0;
		let before = 0;
		for (const key of keysInValueOrder()) {
			const count = this.#counts[key] ?? 0;
			if (count === 0) continue;
			while (next < ranks.length && (ranks[next] as number) < before + count) {
				estimates.push(keyValue(key));
				next++;
			}
			if (next === ranks.length) break;
			before += count;
		}
		if (next < ranks.length) throw new RangeError(`rank ${ranks[next]} is past the sketch's ${this.#total} values`);
		return estimates;
	}
}

/**
 * Two sketches' (key, count) pairs as one, keys ascending: the counts of a key present in both
 * add. Written into one array of both lengths, cut to the pairs made: a full-width window over
 * strips merges its chunks' sketches many times, and the growing JavaScript array this was first
 * written with was about a fifth of what such a window allocated on the JavaScript heap.
 */
export function mergeSketchPairs(a: Uint32Array, b: Uint32Array): Uint32Array {
	const merged = new Uint32Array(a.length + b.length);
	let i = 0;
	let j = 0;
	let k = 0;
	while (i < a.length && j < b.length) {
		const keyA = a[i] as number;
		const keyB = b[j] as number;
		if (keyA === keyB) {
			merged[k] = keyA;
			merged[k + 1] = (a[i + 1] as number) + (b[j + 1] as number);
			i += 2;
			j += 2;
		} else if (keyA < keyB) {
			merged[k] = keyA;
			merged[k + 1] = a[i + 1] as number;
			i += 2;
		} else {
			merged[k] = keyB;
			merged[k + 1] = b[j + 1] as number;
			j += 2;
		}
		k += 2;
	}
	merged.set(a.subarray(i), k);
	k += a.length - i;
	merged.set(b.subarray(j), k);
	k += b.length - j;
	return k === merged.length ? merged : merged.slice(0, k);
}

/** Serialized form of a window's pairs, as stored between compute and publish. */
export function sketchBytes(pairs: Uint32Array): Uint8Array<ArrayBuffer> {
	return new Uint8Array(pairs.slice().buffer);
}

export function sketchPairs(bytes: ArrayBuffer): Uint32Array {
	if (bytes.byteLength % 8 !== 0) throw new RangeError(`a sketch of ${bytes.byteLength} bytes is not whole pairs`);
	return new Uint32Array(bytes);
}
