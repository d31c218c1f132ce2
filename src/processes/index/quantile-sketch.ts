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

	get count(): number {
		return this.#total;
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

/** Two sketches' (key, count) pairs as one, keys ascending: the counts of a key present in both add. */
export function mergeSketchPairs(a: Uint32Array, b: Uint32Array): Uint32Array {
	const merged: number[] = [];
	let i = 0;
	let j = 0;
	while (i < a.length || j < b.length) {
		const keyA = i < a.length ? (a[i] as number) : Number.POSITIVE_INFINITY;
		const keyB = j < b.length ? (b[j] as number) : Number.POSITIVE_INFINITY;
		if (keyA === keyB) {
			merged.push(keyA, (a[i + 1] as number) + (b[j + 1] as number));
			i += 2;
			j += 2;
		} else if (keyA < keyB) {
			merged.push(keyA, a[i + 1] as number);
			i += 2;
		} else {
			merged.push(keyB, b[j + 1] as number);
			j += 2;
		}
	}
	return Uint32Array.from(merged);
}

/** Serialized form of a window's pairs, as stored between compute and publish. */
export function sketchBytes(pairs: Uint32Array): Uint8Array<ArrayBuffer> {
	return new Uint8Array(pairs.slice().buffer);
}

export function sketchPairs(bytes: ArrayBuffer): Uint32Array {
	if (bytes.byteLength % 8 !== 0) throw new RangeError(`a sketch of ${bytes.byteLength} bytes is not whole pairs`);
	return new Uint32Array(bytes);
}
