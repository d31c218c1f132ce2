/**
 * Per-feature statistics from weighted pixels: each valid pixel a (value, weight) pair, where the
 * weight is the pixel's coverage by the feature, and the weights of its nodata and masked pixels.
 *
 * Up to EXACT_PAIRS_LIMIT pairs, the values are kept (as float32, the type the formulas compute
 * in) rather than folded into running sums, because exact weighted percentiles need them all. A
 * larger feature would hold 12 bytes a pixel (120 MB at 10^7 pixels, near a Worker's 128 MB), so
 * past the limit the accumulator folds its pairs into a sketch and keeps no pair again: weights by
 * quantile-sketch key (src/processes/index/quantile-sketch.ts, 512 KiB whatever the size) for the
 * percentiles, within SKETCH_RELATIVE_ERROR of the exact ones, and exact running moments
 * ({@link Moments}) for count, mean, std, sum, min and max.
 *
 * A feature split across windows is accumulated per window, the partials serialised, and merged
 * before {@link WeightedStatistics.finish}; partials of either kind merge with each other.
 */
import { eightByteAligned } from "../../bytes";
import { QuantileSketch, SKETCH_RELATIVE_ERROR } from "../index/quantile-sketch";

/** The statistics of one feature, nulls where no valid pixel has a weight. */
export interface FeatureStatistics {
	/** Σ weight over valid pixels. */
	count: number;
	nodata_count: number;
	masked_count: number;
	/** count / (count + nodata_count + masked_count); null when all three are 0. */
	valid_fraction: number | null;
	/** Σ w·x / Σ w. */
	mean: number | null;
	/** Population standard deviation, sqrt(Σ w·(x − mean)² / Σ w). */
	std: number | null;
	min: number | null;
	max: number | null;
	/** Σ w·x. */
	sum: number | null;
	/** Keyed `p${q}`: p2, p50, p98, p99.5. */
	percentiles: Record<string, number | null>;
	/**
	 * Present only when the percentiles came from the sketch (a feature of more than
	 * EXACT_PAIRS_LIMIT valid pixels): the bound on their error, relative to each value.
	 */
	percentile_relative_error?: number;
}

/** Pairs an accumulator keeps before it folds them into a sketch: past it, percentiles are approximate. */
export const EXACT_PAIRS_LIMIT = 1_000_000;

const INITIAL_CAPACITY = 64;
/**
 * The most pairs whose arrays {@link WeightedStatistics.clear} keeps (768 KiB): an accumulator
 * lives as long as the isolate ({@link isolateAccumulator}), and a larger field's 12 bytes a
 * pair would stay held through the messages after it.
 */
const RETAINED_CAPACITY = 65_536;
/** nodata weight, masked weight, pair count (or SKETCHED), as float64s before the rest. */
const HEADER_FLOATS = 3;
/** The pair count a sketched partial's header gives; its moments and then its sketch follow. */
const SKETCHED = -1;
const MOMENT_FLOATS = 8;

/**
 * Exact running moments of a sketched feature: Σw and Σwx as compensated (Neumaier) sums, min and
 * max, and the mean with M2 = Σw(x − mean)² updated by weighted Welford steps and merged by Chan's
 * formula, so the variance never comes from the difference of two large sums.
 */
class Moments {
	weight = 0;
	weightCompensation = 0;
	sum = 0;
	sumCompensation = 0;
	mean = 0;
	m2 = 0;
	min = Number.POSITIVE_INFINITY;
	max = Number.NEGATIVE_INFINITY;

	/** The moments of pairs, the mean first and the deviations from it after, as the exact finish takes them. */
	static ofPairs(values: Float32Array, weights: Float64Array, pairs: number): Moments {
		const moments = new Moments();
		for (let i = 0; i < pairs; i++) {
			const value = values[i] as number;
			const weight = weights[i] as number;
			moments.addSums(value, weight);
			if (value < moments.min) moments.min = value;
			if (value > moments.max) moments.max = value;
		}
		if (pairs === 0) return moments;
		moments.mean = moments.sumTotal() / moments.weightTotal();
		for (let i = 0; i < pairs; i++) {
			const deviation = (values[i] as number) - moments.mean;
			moments.m2 += (weights[i] as number) * deviation * deviation;
		}
		return moments;
	}

	/** A value (already a float32) of weight > 0. */
	add(value: number, weight: number): void {
		this.addSums(value, weight);
		if (value < this.min) this.min = value;
		if (value > this.max) this.max = value;
		const deviation = value - this.mean;
		// weight / total, not deviation · weight / total: the first value becomes the mean exactly.
		this.mean += deviation * (weight / this.weightTotal());
		this.m2 += weight * deviation * (value - this.mean);
	}

	merge(other: Moments): void {
		const before = this.weightTotal();
		const otherWeight = other.weightTotal();
		if (otherWeight === 0) return;
		[this.weight, this.weightCompensation] = compensatedAdd(
			this.weight,
			this.weightCompensation + other.weightCompensation,
			other.weight,
		);
		[this.sum, this.sumCompensation] = compensatedAdd(
			this.sum,
			this.sumCompensation + other.sumCompensation,
			other.sum,
		);
		const total = this.weightTotal();
		const deviation = other.mean - this.mean;
		this.mean += deviation * (otherWeight / total);
		this.m2 += other.m2 + deviation * deviation * ((before * otherWeight) / total);
		this.min = Math.min(this.min, other.min);
		this.max = Math.max(this.max, other.max);
	}

	weightTotal(): number {
		return this.weight + this.weightCompensation;
	}

	sumTotal(): number {
		return this.sum + this.sumCompensation;
	}

	write(floats: Float64Array, at: number): void {
		floats.set(
			[this.weight, this.weightCompensation, this.sum, this.sumCompensation, this.mean, this.m2, this.min, this.max],
			at,
		);
	}

	static read(floats: Float64Array, at: number): Moments {
		const moments = new Moments();
		const float = (i: number) => floats[at + i] as number;
		moments.weight = float(0);
		moments.weightCompensation = float(1);
		moments.sum = float(2);
		moments.sumCompensation = float(3);
		moments.mean = float(4);
		moments.m2 = float(5);
		moments.min = float(6);
		moments.max = float(7);
		return moments;
	}

	private addSums(value: number, weight: number): void {
		// Neumaier's compensated sums, written out: this runs once per pixel of a large field.
		let total = this.weight + weight;
		this.weightCompensation +=
			Math.abs(this.weight) >= weight ? this.weight - total + weight : weight - total + this.weight;
		this.weight = total;
		const product = weight * value;
		total = this.sum + product;
		this.sumCompensation +=
			Math.abs(this.sum) >= Math.abs(product) ? this.sum - total + product : product - total + this.sum;
		this.sum = total;
	}
}

/** Neumaier's step: the sum and compensation after adding `addend`. */
function compensatedAdd(sum: number, compensation: number, addend: number): [number, number] {
	const total = sum + addend;
	const error = Math.abs(sum) >= Math.abs(addend) ? sum - total + addend : addend - total + sum;
	return [total, compensation + error];
}

/** Bits of the order key one pass of the radix sort places: four passes place all 32. */
const RADIX_BITS = 8;
const RADIX_BUCKETS = 1 << RADIX_BITS;
const RADIX_PASSES = 32 / RADIX_BITS;

/**
 * What {@link WeightedStatistics.finish} sorts in, kept from one call to the next (it is
 * synchronous): a window finishes hundreds of fields, and allocating these per field cost more
 * than the sort itself (bench:fields). 12 bytes a pair, let go past RETAINED_CAPACITY pairs by
 * {@link WeightedStatistics.clear}, as the accumulator's own arrays are. Int32Arrays, not
 * Uint32Arrays: a key with its top bit set read from a Uint32Array is no small integer, and V8's
 * optimized sort bailed out to the interpreter on it ("not a Smi"), field after field.
 */
const finishScratch = {
	keys: new Int32Array(0),
	order: new Int32Array(0),
	spare: new Int32Array(0),
	counts: new Int32Array(RADIX_PASSES * RADIX_BUCKETS),
};

/**
 * Sort keys of float32 bit patterns (as int32s): their unsigned order equals numeric order, the
 * sign bit set on positives and every bit of negatives inverted.
 */
function orderedKey(bits: number): number {
	return bits ^ ((bits >> 31) | 0x80000000);
}

// The loops of WeightedStatistics.finish, each a function of typed arrays and numbers alone: V8
// compiles them small and keeps them, where finish written as one method was compiled again for
// each window of bench:fields (30 ms of optimizing compiler a time, counted in the job's CPU) and
// ran its loops unoptimized meanwhile. Every sum runs in the order finish has always taken.

/** Fills `keys` with the pairs' order keys and `order` with 0..pairs-1, and counts every pass's digits. */
function countDigits(bits: Int32Array, keys: Int32Array, order: Int32Array, counts: Int32Array, pairs: number): void {
	counts.fill(0);
	for (let i = 0; i < pairs; i++) {
		const key = orderedKey(bits[i] as number);
		keys[i] = key;
		order[i] = i;
		for (let pass = 0; pass < RADIX_PASSES; pass++) {
			const bucket = pass * RADIX_BUCKETS + ((key >>> (pass * RADIX_BITS)) & (RADIX_BUCKETS - 1));
			counts[bucket] = (counts[bucket] as number) + 1;
		}
	}
}

/**
 * Turns one pass's digit counts into each bucket's first position; false when every key shares
 * the pass's digit, so the pass would move nothing.
 */
function bucketStarts(counts: Int32Array, base: number, pairs: number): boolean {
	let position = 0;
	let shared = false;
	for (let bucket = base; bucket < base + RADIX_BUCKETS; bucket++) {
		const count = counts[bucket] as number;
		if (count === pairs) shared = true;
		counts[bucket] = position;
		position += count;
	}
	return !shared;
}

/** One stable pass: `order` into `sorted` by the digit of each index's key at `shift`. */
function scatterPass(
	keys: Int32Array,
	order: Int32Array,
	sorted: Int32Array,
	counts: Int32Array,
	base: number,
	shift: number,
	pairs: number,
): void {
	for (let i = 0; i < pairs; i++) {
		const index = order[i] as number;
		const bucket = base + (((keys[index] as number) >>> shift) & (RADIX_BUCKETS - 1));
		const at = counts[bucket] as number;
		sorted[at] = index;
		counts[bucket] = at + 1;
	}
}

/** Σ weights over the first `pairs`, in index order. */
function weightTotal(weights: Float64Array, pairs: number): number {
	let total = 0;
	for (let i = 0; i < pairs; i++) total += weights[i] as number;
	return total;
}

/** Σ w·x over the first `pairs`, in index order. */
function weightedSum(values: Float32Array, weights: Float64Array, pairs: number): number {
	let sum = 0;
	for (let i = 0; i < pairs; i++) sum += (weights[i] as number) * (values[i] as number);
	return sum;
}

/** Σ w·(x − mean)² over the first `pairs`, in index order. */
function weightedSquares(values: Float32Array, weights: Float64Array, pairs: number, mean: number): number {
	let squares = 0;
	for (let i = 0; i < pairs; i++) {
		const deviation = (values[i] as number) - mean;
		squares += (weights[i] as number) * deviation * deviation;
	}
	return squares;
}

/**
 * The pair indices in ascending order of value, ties in order of index, valid until the next
 * call: a stable least-significant-digit radix sort of the values' order keys, a byte a pass. It
 * orders as a sort of (key, index) would, without the branches a comparison sort mispredicts on
 * fresh data (twice as fast as a native sort of 64-bit (key, index) integers from a thousand
 * pairs up). A pass whose byte all keys share is skipped.
 */
function ascendingOrder(values: Float32Array, pairs: number): Int32Array {
	if (finishScratch.keys.length < pairs) {
		finishScratch.keys = new Int32Array(pairs);
		finishScratch.order = new Int32Array(pairs);
		finishScratch.spare = new Int32Array(pairs);
	}
	const { keys, counts } = finishScratch;
	let order = finishScratch.order;
	let spare = finishScratch.spare;
	countDigits(new Int32Array(values.buffer, values.byteOffset, pairs), keys, order, counts, pairs);
	for (let pass = 0; pass < RADIX_PASSES; pass++) {
		const base = pass * RADIX_BUCKETS;
		if (!bucketStarts(counts, base, pairs)) continue;
		scatterPass(keys, order, spare, counts, base, pass * RADIX_BITS, pairs);
		const sorted = spare;
		spare = order;
		order = sorted;
	}
	return order;
}

/** Σ weights in the order of `order`. */
function rankedWeightTotal(weights: Float64Array, order: Int32Array, pairs: number): number {
	let total = 0;
	for (let rank = 0; rank < pairs; rank++) total += weights[order[rank] as number] as number;
	return total;
}

/**
 * For each of `targets` (ascending), the first rank whose cumulative weight, summed in the order
 * of `order`, reaches it; the last rank for a target past the total by rounding.
 */
function targetRanks(weights: Float64Array, order: Int32Array, pairs: number, targets: Float64Array): Int32Array {
	const ranks = new Int32Array(targets.length);
	let next = 0;
	let cumulative = 0;
	for (let rank = 0; rank < pairs && next < targets.length; rank++) {
		cumulative += weights[order[rank] as number] as number;
		while (next < targets.length && cumulative >= (targets[next] as number)) ranks[next++] = rank;
	}
	ranks.fill(pairs - 1, next);
	return ranks;
}

/**
 * (value, weight) pairs of one feature's valid pixels, or past EXACT_PAIRS_LIMIT of them their
 * sketch and moments, and the weights of its nodata and masked pixels.
 */
export class WeightedStatistics {
	private values: Float32Array = new Float32Array(INITIAL_CAPACITY);
	private weights: Float64Array = new Float64Array(INITIAL_CAPACITY);
	private pairs = 0;
	/** Set once the pairs passed EXACT_PAIRS_LIMIT; no pair is kept after. */
	private sketched: { sketch: QuantileSketch; moments: Moments } | null = null;
	private nodataWeight = 0;
	private maskedWeight = 0;

	/**
	 * Empties the accumulator for another feature, keeping the pairs' arrays it has grown up to
	 * RETAINED_CAPACITY (fields are weighed one after another with one accumulator).
	 */
	clear(): void {
		if (this.sketched || this.values.length > RETAINED_CAPACITY) {
			this.values = new Float32Array(INITIAL_CAPACITY);
			this.weights = new Float64Array(INITIAL_CAPACITY);
			this.sketched = null;
		}
		if (finishScratch.keys.length > RETAINED_CAPACITY) {
			finishScratch.keys = new Int32Array(0);
			finishScratch.order = new Int32Array(0);
			finishScratch.spare = new Int32Array(0);
		}
		this.pairs = 0;
		this.nodataWeight = 0;
		this.maskedWeight = 0;
	}

	/** A valid pixel's value with the feature's weight on it; a weight of 0 adds nothing. */
	add(value: number, weight: number): void {
		if (!(weight > 0)) return;
		// -0 is kept as 0, so that ties between them cannot order differently from a comparator sort.
		const kept = Math.fround(value) + 0;
		if (this.sketched) {
			this.sketched.sketch.addWeighted(kept, weight);
			this.sketched.moments.add(kept, weight);
			return;
		}
		if (this.pairs === this.values.length) this.grow(this.pairs * 2);
		this.values[this.pairs] = kept;
		this.weights[this.pairs] = weight;
		this.pairs++;
		if (this.pairs > EXACT_PAIRS_LIMIT) this.fold();
	}

	/** A pixel that is nodata in an input or NaN from the formula. */
	addNodata(weight: number): void {
		this.nodataWeight += weight;
	}

	/** A pixel the mask drops, whether or not it is also nodata. */
	addMasked(weight: number): void {
		this.maskedWeight += weight;
	}

	/** Whether the percentiles will come from the sketch (the feature has passed EXACT_PAIRS_LIMIT pairs). */
	get isSketched(): boolean {
		return this.sketched !== null;
	}

	/** Adds another partial of the same feature (e.g. from another window); `other` is left as it was. */
	merge(other: WeightedStatistics): void {
		this.nodataWeight += other.nodataWeight;
		this.maskedWeight += other.maskedWeight;
		if (!this.sketched && !other.sketched && this.pairs + other.pairs <= EXACT_PAIRS_LIMIT) {
			// Doubling, but never past the limit: the pairs cannot grow beyond it.
			const needed = this.pairs + other.pairs;
			if (needed > this.values.length) this.grow(Math.max(needed, Math.min(this.pairs * 2, EXACT_PAIRS_LIMIT)));
			this.values.set(other.values.subarray(0, other.pairs), this.pairs);
			this.weights.set(other.weights.subarray(0, other.pairs), this.pairs);
			this.pairs += other.pairs;
			return;
		}
		const { sketch, moments } = this.sketched ?? this.fold();
		if (other.sketched) {
			sketch.merge(other.sketched.sketch);
			moments.merge(other.sketched.moments);
		} else {
			for (let i = 0; i < other.pairs; i++) sketch.addWeighted(other.values[i] as number, other.weights[i] as number);
			moments.merge(Moments.ofPairs(other.values, other.weights, other.pairs));
		}
	}

	/**
	 * Little-endian float64s: the header (nodata weight, masked weight, pair count), then
	 * - with pairs: the weights (float64), then the values (float32): 24 + 12 bytes a pair;
	 * - sketched (pair count SKETCHED): the moments (8 float64s), then the sketch's sparse bytes
	 *   (an 8 KiB bitmap of its keys and 8 bytes a key present): at most 88 + 8192 + 524288 bytes.
	 */
	toBytes(): Uint8Array {
		if (this.sketched) {
			const sketch = this.sketched.sketch.toBytes();
			const prefix = 8 * (HEADER_FLOATS + MOMENT_FLOATS);
			const bytes = new Uint8Array(prefix + sketch.byteLength);
			const floats = new Float64Array(bytes.buffer, 0, HEADER_FLOATS + MOMENT_FLOATS);
			floats.set([this.nodataWeight, this.maskedWeight, SKETCHED]);
			this.sketched.moments.write(floats, HEADER_FLOATS);
			bytes.set(sketch, prefix);
			return bytes;
		}
		const bytes = new Uint8Array(8 * HEADER_FLOATS + 12 * this.pairs);
		const floats = new Float64Array(bytes.buffer, 0, HEADER_FLOATS + this.pairs);
		floats[0] = this.nodataWeight;
		floats[1] = this.maskedWeight;
		floats[2] = this.pairs;
		floats.set(this.weights.subarray(0, this.pairs), HEADER_FLOATS);
		new Float32Array(bytes.buffer, 8 * (HEADER_FLOATS + this.pairs), this.pairs).set(
			this.values.subarray(0, this.pairs),
		);
		return bytes;
	}

	/**
	 * The partial {@link toBytes} wrote. Its pairs are views of `bytes` where it starts on an
	 * 8-byte boundary (publish decodes each of thousands of partials into bytes of its own, and a
	 * copy of each was most of what publish allocated), so the caller hands `bytes` over; a
	 * later add or merge grows the pairs into arrays of their own.
	 */
	static fromBytes(bytes: Uint8Array): WeightedStatistics {
		const aligned = eightByteAligned(bytes);
		const { buffer, byteOffset: at } = aligned;
		if (bytes.byteLength < 8 * HEADER_FLOATS) {
			throw new Error(`a weighted-statistics partial of ${bytes.byteLength} bytes has no header`);
		}
		const header = new Float64Array(buffer, at, HEADER_FLOATS);
		const statistics = new WeightedStatistics();
		statistics.nodataWeight = header[0] ?? 0;
		statistics.maskedWeight = header[1] ?? 0;
		const pairs = header[2] ?? 0;
		if (pairs === SKETCHED && bytes.byteLength >= 8 * (HEADER_FLOATS + MOMENT_FLOATS)) {
			const prefix = 8 * (HEADER_FLOATS + MOMENT_FLOATS);
			statistics.values = new Float32Array(0);
			statistics.weights = new Float64Array(0);
			statistics.sketched = {
				moments: Moments.read(new Float64Array(buffer, at + 8 * HEADER_FLOATS, MOMENT_FLOATS), 0),
				sketch: QuantileSketch.fromBytes(new Uint8Array(buffer, at + prefix, bytes.byteLength - prefix)),
			};
			return statistics;
		}
		if (!Number.isInteger(pairs) || pairs < 0 || bytes.byteLength !== 8 * HEADER_FLOATS + 12 * pairs) {
			throw new Error(`a weighted-statistics partial of ${bytes.byteLength} bytes cannot hold ${pairs} pairs`);
		}
		statistics.weights = new Float64Array(buffer, at + 8 * HEADER_FLOATS, pairs);
		statistics.values = new Float32Array(buffer, at + 8 * (HEADER_FLOATS + pairs), pairs);
		// As a small integer: read from the float64 header it is a double, and a double in the field
		// had V8's optimized finish bail out on it ("not a Smi") for every field publish joined, and
		// generalized the field for compute's code too (bench:fields).
		statistics.pairs = pairs | 0;
		// A partial written before the limit existed may hold more.
		if (pairs > EXACT_PAIRS_LIMIT) statistics.fold();
		return statistics;
	}

	/**
	 * The feature's statistics. A weighted percentile q is the smallest value whose cumulative
	 * weight, values ascending, reaches q/100 of the total (the inverted-CDF rule). The mean is
	 * taken first and the deviations from it summed after, so the variance does not cancel.
	 * Sketched, the percentiles are those of the sketch's keys (p0 and p100 the exact min and max,
	 * every other one kept within them) and `percentile_relative_error` says how far they may be.
	 */
	finish(percentiles: readonly number[]): FeatureStatistics {
		const count = this.sketched ? this.sketched.moments.weightTotal() : weightTotal(this.weights, this.pairs);
		const total = count + this.nodataWeight + this.maskedWeight;
		const statistics: FeatureStatistics = {
			count,
			nodata_count: this.nodataWeight,
			masked_count: this.maskedWeight,
			valid_fraction: total > 0 ? count / total : null,
			mean: null,
			std: null,
			min: null,
			max: null,
			sum: null,
			percentiles: Object.fromEntries(percentiles.map((q) => [`p${q}`, null])),
		};
		if (this.sketched) return { ...statistics, ...sketchedStatistics(this.sketched, count, percentiles) };
		if (this.pairs === 0) return statistics;

		const { pairs, values, weights } = this;
		const sum = weightedSum(values, weights, pairs);
		const mean = sum / count;
		const squares = weightedSquares(values, weights, pairs, mean);
		const order = ascendingOrder(values, pairs);
		// The total weight summed in ascending order of value, as the cumulative weights are.
		const rankedWeight = rankedWeightTotal(weights, order, pairs);
		// One walk up the ranks answers every percentile, the smallest target first.
		const byTarget = percentiles
			.map((q, i) => ({ key: `p${q}`, target: (q / 100) * rankedWeight, i }))
			.sort((a, b) => a.target - b.target);
		const ranks = targetRanks(
			weights,
			order,
			pairs,
			Float64Array.from(byTarget, ({ target }) => target),
		);
		byTarget.forEach(({ key }, next) => {
			statistics.percentiles[key] = values[order[ranks[next] as number] as number] as number;
		});
		return {
			...statistics,
			mean,
			std: Math.sqrt(squares / count),
			min: values[order[0] as number] as number,
			max: values[order[pairs - 1] as number] as number,
			sum,
		};
	}

	/** Folds the pairs into a sketch and moments, and lets the pairs go. */
	private fold(): { sketch: QuantileSketch; moments: Moments } {
		const sketch = new QuantileSketch();
		for (let i = 0; i < this.pairs; i++) sketch.addWeighted(this.values[i] as number, this.weights[i] as number);
		this.sketched = { sketch, moments: Moments.ofPairs(this.values, this.weights, this.pairs) };
		this.values = new Float32Array(0);
		this.weights = new Float64Array(0);
		this.pairs = 0;
		return this.sketched;
	}

	private grow(capacity: number): void {
		const values = new Float32Array(capacity);
		values.set(this.values.subarray(0, this.pairs));
		const weights = new Float64Array(capacity);
		weights.set(this.weights.subarray(0, this.pairs));
		this.values = values;
		this.weights = weights;
	}
}

/** A sketched feature's statistics other than its counts. */
function sketchedStatistics(
	{ sketch, moments }: { sketch: QuantileSketch; moments: Moments },
	count: number,
	percentiles: readonly number[],
): Pick<FeatureStatistics, "mean" | "std" | "min" | "max" | "sum" | "percentiles" | "percentile_relative_error"> {
	const { min, max } = moments;
	const estimates = sketch.weightedPercentiles(percentiles);
	return {
		mean: moments.sumTotal() / count,
		std: Math.sqrt(moments.m2 / count),
		min,
		max,
		sum: moments.sumTotal(),
		percentiles: Object.fromEntries(
			percentiles.map((q, i) => {
				// The exact percentile lies in [min, max], so bringing an estimate inside never moves it away.
				const estimate = q <= 0 ? min : q >= 100 ? max : Math.min(Math.max(estimates[i] as number, min), max);
				return [`p${q}`, estimate];
			}),
		),
		percentile_relative_error: SKETCH_RELATIVE_ERROR,
	};
}

/**
 * The accumulator zonal compute weighs each window's fields in and publish joins the cut fields
 * in, one field at a time and synchronously (no two uses interleave), kept for the isolate. Made
 * per window, accumulators died with it, and V8 dropped their hidden classes at the next full
 * collection, which discards the optimized code that had seen them ("embedded weak objects
 * cleared"): each window of the spread layout, a few fields each, then ran the per-pixel loops and
 * the sort mostly unoptimized again (bench:fields, spread:1: compute 4.01 s -> 2.80 s), and
 * publish's accumulator per cut field boxed every double of its loops. clear() lets a large
 * field's arrays go, so it holds little between messages (src/isolate-memory.ts).
 */
export const isolateAccumulator = new WeightedStatistics();
