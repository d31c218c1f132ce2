/**
 * Per-feature statistics from weighted pixels: each valid pixel a (value, weight) pair, where the
 * weight is the pixel's coverage by the feature, and the weights of its nodata and masked pixels.
 *
 * Values are kept (as float32, the type the formulas compute in) rather than folded into running
 * sums, because exact weighted percentiles need them all; a feature split across windows is
 * accumulated per window, the partials serialised, and merged before {@link WeightedStatistics.finish}.
 */

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
}

const INITIAL_CAPACITY = 64;
/** nodata weight, masked weight, pair count, as float64s before the weights and then the values. */
const HEADER_FLOATS = 3;

/** Sort keys of float32 bit patterns: unsigned order equals numeric order (negatives' bits inverted). */
function orderedKey(bits: number): number {
	return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** (value, weight) pairs of one feature's valid pixels, and the weights of its nodata and masked pixels. */
export class WeightedStatistics {
	private values = new Float32Array(INITIAL_CAPACITY);
	private weights = new Float64Array(INITIAL_CAPACITY);
	private pairs = 0;
	private nodataWeight = 0;
	private maskedWeight = 0;

	/** A valid pixel's value with the feature's weight on it; a weight of 0 adds nothing. */
	add(value: number, weight: number): void {
		if (!(weight > 0)) return;
		if (this.pairs === this.values.length) this.grow(this.pairs * 2);
		// -0 is kept as 0, so that ties between them cannot order differently from a comparator sort.
		this.values[this.pairs] = value + 0;
		this.weights[this.pairs] = weight;
		this.pairs++;
	}

	/** A pixel that is nodata in an input or NaN from the formula. */
	addNodata(weight: number): void {
		this.nodataWeight += weight;
	}

	/** A pixel the mask drops, whether or not it is also nodata. */
	addMasked(weight: number): void {
		this.maskedWeight += weight;
	}

	/** Adds another partial of the same feature (e.g. from another window). */
	merge(other: WeightedStatistics): void {
		if (this.pairs + other.pairs > this.values.length) this.grow(Math.max(this.pairs + other.pairs, this.pairs * 2));
		this.values.set(other.values.subarray(0, other.pairs), this.pairs);
		this.weights.set(other.weights.subarray(0, other.pairs), this.pairs);
		this.pairs += other.pairs;
		this.nodataWeight += other.nodataWeight;
		this.maskedWeight += other.maskedWeight;
	}

	/** 24 + 12 bytes per pair: the header, the weights (float64), then the values (float32), little-endian. */
	toBytes(): Uint8Array {
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

	/** The partial {@link toBytes} wrote. */
	static fromBytes(bytes: Uint8Array): WeightedStatistics {
		// A copy, so the typed views below start on an aligned offset whatever `bytes` is a view of.
		const buffer = bytes.slice().buffer;
		const header = new Float64Array(buffer, 0, HEADER_FLOATS);
		const pairs = header[2] ?? 0;
		if (!Number.isInteger(pairs) || bytes.byteLength !== 8 * HEADER_FLOATS + 12 * pairs) {
			throw new Error(`a weighted-statistics partial of ${bytes.byteLength} bytes cannot hold ${pairs} pairs`);
		}
		const statistics = new WeightedStatistics();
		statistics.nodataWeight = header[0] ?? 0;
		statistics.maskedWeight = header[1] ?? 0;
		statistics.grow(Math.max(pairs, INITIAL_CAPACITY));
		statistics.weights.set(new Float64Array(buffer, 8 * HEADER_FLOATS, pairs));
		statistics.values.set(new Float32Array(buffer, 8 * (HEADER_FLOATS + pairs), pairs));
		statistics.pairs = pairs;
		return statistics;
	}

	/**
	 * The feature's statistics. A weighted percentile q is the smallest value whose cumulative
	 * weight, values ascending, reaches q/100 of the total (the inverted-CDF rule). The mean is
	 * taken first and the deviations from it summed after, so the variance does not cancel.
	 */
	finish(percentiles: readonly number[]): FeatureStatistics {
		const count = this.weightSum();
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
		if (this.pairs === 0) return statistics;

		let sum = 0;
		for (let i = 0; i < this.pairs; i++) sum += (this.weights[i] ?? 0) * (this.values[i] ?? 0);
		const mean = sum / count;
		let squares = 0;
		for (let i = 0; i < this.pairs; i++) {
			const deviation = (this.values[i] ?? 0) - mean;
			squares += (this.weights[i] ?? 0) * deviation * deviation;
		}
		const order = this.ascendingOrder();
		// Cumulative weights in ascending order of value; the last is the total the quantiles take.
		const cumulative = new Float64Array(this.pairs);
		let running = 0;
		for (let rank = 0; rank < this.pairs; rank++) {
			running += this.weights[order[rank] ?? 0] ?? 0;
			cumulative[rank] = running;
		}
		const valueAt = (rank: number) => this.values[order[rank] ?? 0] ?? 0;
		for (const q of percentiles) {
			const target = (q / 100) * running;
			// The first rank whose cumulative weight reaches the target (binary search: they ascend).
			let low = 0;
			let high = this.pairs - 1;
			while (low < high) {
				const middle = (low + high) >>> 1;
				if ((cumulative[middle] ?? 0) >= target) high = middle;
				else low = middle + 1;
			}
			statistics.percentiles[`p${q}`] = valueAt(low);
		}
		return {
			...statistics,
			mean,
			std: Math.sqrt(squares / count),
			min: valueAt(0),
			max: valueAt(this.pairs - 1),
			sum,
		};
	}

	private weightSum(): number {
		let sum = 0;
		for (let i = 0; i < this.pairs; i++) sum += this.weights[i] ?? 0;
		return sum;
	}

	/**
	 * Pair indices in ascending order of value. Each value's order key goes in the high half and its
	 * index in the low half of a 64-bit integer, so one native typed-array sort orders a million
	 * pairs in milliseconds with no comparator calls.
	 */
	private ascendingOrder(): Uint32Array {
		const keys = new BigUint64Array(this.pairs);
		const halves = new Uint32Array(keys.buffer);
		const bits = new Uint32Array(this.values.buffer, 0, this.pairs);
		// Little-endian halves: low word first. Workers run on little-endian hosts only.
		for (let i = 0; i < this.pairs; i++) {
			halves[2 * i] = i;
			halves[2 * i + 1] = orderedKey(bits[i] ?? 0);
		}
		keys.sort();
		const order = new Uint32Array(this.pairs);
		for (let i = 0; i < this.pairs; i++) order[i] = halves[2 * i] ?? 0;
		return order;
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
