import { describe, expect, it } from "vitest";
import { SKETCH_RELATIVE_ERROR } from "../../src/processes/index/quantile-sketch";
import {
	EXACT_PAIRS_LIMIT,
	type FeatureStatistics,
	WeightedStatistics,
} from "../../src/processes/zonal/weighted-statistics";
import { seededRandom } from "../random";

function accumulate(pairs: readonly [number, number][]): WeightedStatistics {
	const statistics = new WeightedStatistics();
	for (const [value, weight] of pairs) statistics.add(value, weight);
	return statistics;
}

/** The definitions, written plainly: a comparator sort and a linear scan for each percentile (-0 taken as 0). */
function reference(pairs: readonly [number, number][], percentiles: readonly number[]): Partial<FeatureStatistics> {
	const kept = pairs.filter(([, weight]) => weight > 0).map(([value, weight]) => [Math.fround(value) + 0, weight]);
	const sorted = [...kept].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
	const count = kept.reduce((sum, [, weight]) => sum + (weight ?? 0), 0);
	const sum = kept.reduce((total, [value, weight]) => total + (value ?? 0) * (weight ?? 0), 0);
	const mean = sum / count;
	const variance =
		kept.reduce((total, [value, weight]) => total + (weight ?? 0) * ((value ?? 0) - mean) ** 2, 0) / count;
	const cumulative: number[] = [];
	for (const [, weight] of sorted) cumulative.push((cumulative.at(-1) ?? 0) + (weight ?? 0));
	const totalWeight = cumulative.at(-1) ?? 0;
	return {
		count,
		mean,
		std: Math.sqrt(variance),
		sum,
		min: sorted[0]?.[0] ?? null,
		max: sorted.at(-1)?.[0] ?? null,
		percentiles: Object.fromEntries(
			percentiles.map((q) => [`p${q}`, sorted[cumulative.findIndex((c) => c >= (q / 100) * totalWeight)]?.[0] ?? null]),
		),
	};
}

describe("WeightedStatistics", () => {
	it("takes the smallest value whose cumulative weight reaches q/100 of the total", () => {
		const even = accumulate([
			[4, 1],
			[2, 1],
			[3, 1],
			[1, 1],
		]).finish([2, 25, 50, 51, 98, 100]);
		expect(even.percentiles).toEqual({ p2: 1, p25: 1, p50: 2, p51: 3, p98: 4, p100: 4 });
		const weighted = accumulate([
			[3, 0.5],
			[1, 0.25],
			[2, 0.25],
		]).finish([25, 50, 50.5, 99.5]);
		expect(weighted.percentiles).toEqual({ p25: 1, p50: 2, "p50.5": 3, "p99.5": 3 });
	});

	it("weighs mean, std and sum, and leaves pixels of weight 0 out of min and max", () => {
		const statistics = accumulate([
			[1, 0.5],
			[3, 1.5],
			[-7, 0],
			[100, 0],
		]).finish([50]);
		expect(statistics).toEqual({
			count: 2,
			nodata_count: 0,
			masked_count: 0,
			valid_fraction: 1,
			mean: 2.5,
			std: Math.sqrt((0.5 * 1.5 ** 2 + 1.5 * 0.5 ** 2) / 2),
			min: 1,
			max: 3,
			sum: 5,
			percentiles: { p50: 3 },
		});
	});

	it("gives a feature with no valid pixel count 0 and nulls; valid_fraction is null only with no weight at all", () => {
		const nulls = { mean: null, std: null, min: null, max: null, sum: null, percentiles: { p2: null, p98: null } };
		expect(new WeightedStatistics().finish([2, 98])).toEqual({
			count: 0,
			nodata_count: 0,
			masked_count: 0,
			valid_fraction: null,
			...nulls,
		});
		const covered = new WeightedStatistics();
		covered.addNodata(0.25);
		covered.addMasked(1.5);
		expect(covered.finish([2, 98])).toEqual({
			count: 0,
			nodata_count: 0.25,
			masked_count: 1.5,
			valid_fraction: 0,
			...nulls,
		});
	});

	it("agrees with the plain definitions on random pairs with repeated values", () => {
		const random = seededRandom(21);
		const percentiles = [0, 2, 10, 50, 90, 98, 100];
		for (let trial = 0; trial < 20; trial++) {
			const pairs = Array.from({ length: 1 + Math.floor(500 * random()) }, (): [number, number] => [
				// Few distinct values, negative zero among them, so ties and sign order are exercised.
				[-0.75, -0, 0, 0.1, 0.3, Math.fround(Math.PI)][Math.floor(6 * random())] ?? 0,
				random() < 0.2 ? 0 : random() < 0.5 ? 1 : random(),
			]);
			const actual = accumulate(pairs).finish(percentiles);
			const expected = reference(pairs, percentiles);
			if (expected.count === 0) continue;
			expect(actual.count).toBeCloseTo(expected.count ?? 0, 9);
			expect(actual.mean).toBeCloseTo(expected.mean ?? 0, 12);
			expect(actual.std).toBeCloseTo(expected.std ?? 0, 12);
			expect(actual.sum).toBeCloseTo(expected.sum ?? 0, 9);
			expect([actual.min, actual.max]).toEqual([expected.min, expected.max]);
			expect(actual.percentiles).toEqual(expected.percentiles);
		}
	});

	it("gives bit for bit what finish gave as one method: sums in index order, cumulative weights by (value, index)", () => {
		// The oracle: finish before its loops became functions of typed arrays, with a stable
		// comparator sort for its radix sort.
		const oracle = (pairs: readonly [number, number][], percentiles: readonly number[]) => {
			const kept = pairs.filter(([, weight]) => weight > 0).map(([value, weight]) => [Math.fround(value) + 0, weight]);
			const values = kept.map(([value]) => value as number);
			const weights = kept.map(([, weight]) => weight as number);
			let count = 0;
			for (const weight of weights) count += weight;
			let sum = 0;
			for (let i = 0; i < kept.length; i++) sum += (weights[i] as number) * (values[i] as number);
			const mean = sum / count;
			let squares = 0;
			for (let i = 0; i < kept.length; i++) {
				const deviation = (values[i] as number) - mean;
				squares += (weights[i] as number) * deviation * deviation;
			}
			const order = values.map((_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number) || a - b);
			let rankedWeight = 0;
			for (const index of order) rankedWeight += weights[index] as number;
			const result: Record<string, number> = {};
			for (const q of percentiles) {
				const target = (q / 100) * rankedWeight;
				let cumulative = 0;
				let rank = 0;
				for (; rank < order.length; rank++) {
					cumulative += weights[order[rank] as number] as number;
					if (cumulative >= target) break;
				}
				result[`p${q}`] = values[order[Math.min(rank, order.length - 1)] as number] as number;
			}
			const last = order[order.length - 1] as number;
			return {
				count,
				sum,
				mean,
				std: Math.sqrt(squares / count),
				min: values[order[0] as number],
				max: values[last],
				result,
			};
		};
		const random = seededRandom(33);
		const percentiles = [99.5, 2, 50, 0, 98, 100, 50];
		const distinct = [-1e30, -0.75, -0, 0, 1e-40, 0.1, 0.3, Math.fround(Math.PI), 3e38];
		for (let trial = 0; trial < 20_000; trial++) {
			const kind = trial % 4;
			const pairs = Array.from({ length: 1 + Math.floor(80 * random()) }, (): [number, number] => [
				// Ties (few distinct values, both zeros, extremes and a subnormal) or fresh values.
				kind < 2 ? (distinct[Math.floor(distinct.length * random())] ?? 0) : (random() - 0.4) * 10 ** (4 * random()),
				// Unit weights, fractional ones, or a mix with zeros.
				kind % 2 === 0 ? 1 : random() < 0.1 ? 0 : random() < 0.5 ? 1 : random(),
			]);
			const expected = oracle(pairs, percentiles);
			if (!(expected.count > 0)) continue;
			const actual = accumulate(pairs).finish(percentiles);
			expect({
				count: actual.count,
				sum: actual.sum,
				mean: actual.mean,
				std: actual.std,
				min: actual.min,
				max: actual.max,
				result: actual.percentiles,
			}).toEqual(expected);
		}
	});

	it("merges partials sent as bytes into what one accumulator gives", () => {
		const random = seededRandom(5);
		const pairs = Array.from({ length: 3000 }, (): [number, number] => [Math.fround(random() - 0.5), random()]);
		const whole = accumulate(pairs);
		whole.addNodata(2.5);
		whole.addMasked(0.75);
		const merged = new WeightedStatistics();
		for (const [start, end] of [
			[0, 0],
			[0, 1000],
			[1000, 1001],
			[1001, 3000],
		] as const) {
			const part = accumulate(pairs.slice(start, end));
			if (start === 1000) part.addNodata(2.5);
			if (end === 3000) part.addMasked(0.75);
			// At an odd offset in a larger buffer, as a partial read out of a stored object may be.
			const bytes = part.toBytes();
			expect(bytes.byteLength).toBe(24 + 12 * (end - start));
			const stored = new Uint8Array(bytes.byteLength + 3);
			stored.set(bytes, 3);
			merged.merge(WeightedStatistics.fromBytes(stored.subarray(3)));
		}
		const expected = whole.finish([2, 50, 98]);
		const actual = merged.finish([2, 50, 98]);
		expect({ ...actual, count: 0, mean: 0, std: 0, sum: 0 }).toEqual({
			...expected,
			count: 0,
			mean: 0,
			std: 0,
			sum: 0,
		});
		for (const key of ["count", "mean", "std", "sum"] as const) expect(actual[key]).toBeCloseTo(expected[key] ?? 0, 12);
		expect(() => WeightedStatistics.fromBytes(new Uint8Array(30))).toThrow(/30 bytes/);
	});

	it("finishes a partial read from bytes as the accumulator it came from, with or without an empty one merged", () => {
		const random = seededRandom(13);
		const pairs = Array.from({ length: 200 }, (): [number, number] => [Math.fround(random() - 0.5), random()]);
		const expected = accumulate(pairs).finish([2, 50, 98]);
		// The read partial's pairs are views into its bytes, past the header: an empty merge keeps them so.
		const read = WeightedStatistics.fromBytes(accumulate(pairs).toBytes());
		expect(read.finish([2, 50, 98])).toEqual(expected);
		read.merge(new WeightedStatistics());
		expect(read.finish([2, 50, 98])).toEqual(expected);
	});

	it("finishes a field after clear as a fresh accumulator does, whether or not a larger field came before", () => {
		const random = seededRandom(34);
		const small = Array.from({ length: 300 }, (): [number, number] => [Math.fround(random() - 0.5), random()]);
		const expected = accumulate(small).finish([2, 50, 98]);
		const reused = new WeightedStatistics();
		// Past the pairs clear() keeps arrays for, and then under it.
		for (const length of [100_000, 1000]) {
			for (let i = 0; i < length; i++) reused.add(random(), random());
			reused.addNodata(1);
			reused.clear();
			for (const [value, weight] of small) reused.add(value, weight);
			expect(reused.finish([2, 50, 98])).toEqual(expected);
			reused.clear();
		}
	});

	it("finishes a million pairs exactly and quickly", () => {
		const random = seededRandom(8);
		const statistics = new WeightedStatistics();
		const values = new Float32Array(1_000_000);
		for (let i = 0; i < values.length; i++) {
			values[i] = random() * 2 - 1;
			statistics.add(values[i] ?? 0, 1);
		}
		const started = performance.now();
		const { percentiles } = statistics.finish([2, 50, 98]);
		const elapsed = performance.now() - started;
		// With unit weights the inverted-CDF percentile is the value of rank ceil(q/100 * n).
		values.sort();
		expect(percentiles).toEqual({ p2: values[19_999], p50: values[499_999], p98: values[979_999] });
		expect(elapsed).toBeLessThan(3000);
	});
});

/** A field's pixels: float32 values and their coverage weights, most 1, a tenth fractional as on its edge. */
interface Pixels {
	values: Float32Array;
	weights: Float64Array;
}

const SKETCHED_PIXELS = 3_000_000;
const PERCENTILES = [0, 0.1, 1, 2, 10, 25, 50, 75, 90, 98, 99, 99.9, 100];

function pixels(seed: number, draw: (random: () => number, normal: () => number) => number, length = SKETCHED_PIXELS) {
	const random = seededRandom(seed);
	// Box–Muller, one normal per call.
	const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
	const values = new Float32Array(length);
	const weights = new Float64Array(length);
	for (let i = 0; i < length; i++) {
		values[i] = draw(random, normal);
		weights[i] = random() < 0.9 ? 1 : 1 - random();
	}
	return { values, weights };
}

const DISTRIBUTIONS: Record<string, (random: () => number, normal: () => number) => number> = {
	"lognormal (σ = 2)": (_, normal) => Math.exp(1 + 2 * normal()),
	"Pareto (α = 1.1)": (random) => 0.01 / (1 - random()) ** (1 / 1.1),
	"negative, skewed, crossing zero": (random, normal) => (random() < 0.95 ? -0.25 - Math.exp(normal()) : 2 + normal()),
	constant: () => 0.4217,
};

function accumulatePixels({ values, weights }: Pixels, start = 0, end = values.length): WeightedStatistics {
	const statistics = new WeightedStatistics();
	for (let i = start; i < end; i++) statistics.add(values[i] as number, weights[i] as number);
	return statistics;
}

/** The statistics in float64 from every pair: two passes for std, a full sort for the inverted-CDF percentiles. */
function exactFloat64({ values, weights }: Pixels, percentiles: readonly number[]) {
	const n = values.length;
	let count = 0;
	let sum = 0;
	for (let i = 0; i < n; i++) {
		count += weights[i] as number;
		sum += (weights[i] as number) * (values[i] as number);
	}
	const mean = sum / count;
	let squares = 0;
	for (let i = 0; i < n; i++) squares += (weights[i] as number) * ((values[i] as number) - mean) ** 2;
	// Value order from the float32 bits (negatives' inverted) in the high half, the index in the low.
	const keys = new BigUint64Array(n);
	const halves = new Uint32Array(keys.buffer);
	const bits = new Uint32Array(values.buffer, values.byteOffset, n);
	for (let i = 0; i < n; i++) {
		const b = bits[i] as number;
		halves[2 * i] = i;
		halves[2 * i + 1] = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
	}
	keys.sort();
	let total = 0;
	for (let rank = 0; rank < n; rank++) total += weights[halves[2 * rank] as number] as number;
	const ascending = percentiles.map((q, i) => [q, i] as const).sort((a, b) => a[0] - b[0]);
	const exact = new Array<number>(percentiles.length);
	let running = 0;
	let next = 0;
	for (let rank = 0; rank < n && next < ascending.length; rank++) {
		const i = halves[2 * rank] as number;
		running += weights[i] as number;
		while (next < ascending.length && running >= ((ascending[next]?.[0] as number) / 100) * total) {
			exact[ascending[next]?.[1] as number] = values[i] as number;
			next++;
		}
	}
	return {
		count,
		mean,
		std: Math.sqrt(squares / count),
		sum,
		min: values[halves[0] as number] as number,
		max: values[halves[2 * n - 2] as number] as number,
		percentiles: exact,
	};
}

/** Each statistic within 1e-9 of the float64 one, min and max equal, each percentile within the sketch's bound. */
function expectWithinBounds(actual: FeatureStatistics, pixels: Pixels): number {
	const exact = exactFloat64(pixels, PERCENTILES);
	expect(actual.percentile_relative_error).toBe(SKETCH_RELATIVE_ERROR);
	for (const key of ["count", "mean", "sum"] as const) {
		expect(Math.abs((actual[key] as number) - exact[key])).toBeLessThanOrEqual(1e-9 * Math.abs(exact[key]));
	}
	// A constant's std is rounding alone, in either computation: then it need only be as small.
	const noise = 1e-12 * Math.abs(exact.mean);
	if (exact.std < noise) expect(actual.std).toBeLessThan(noise);
	else expect(Math.abs((actual.std as number) - exact.std)).toBeLessThanOrEqual(1e-9 * exact.std);
	expect([actual.min, actual.max]).toEqual([exact.min, exact.max]);
	let worst = 0;
	PERCENTILES.forEach((q, i) => {
		const expected = exact.percentiles[i] as number;
		const error = Math.abs((actual.percentiles[`p${q}`] as number) - expected);
		expect(error, `p${q}`).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(expected));
		if (expected !== 0) worst = Math.max(worst, error / Math.abs(expected));
	});
	return worst;
}

describe("WeightedStatistics past EXACT_PAIRS_LIMIT pairs", () => {
	it("keeps pairs, and exact percentiles, up to the limit and sketches one pair past it", () => {
		const statistics = new WeightedStatistics();
		for (let i = 0; i < EXACT_PAIRS_LIMIT; i++) statistics.add(i, 1);
		expect(statistics.isSketched).toBe(false);
		expect(statistics.finish([50]).percentile_relative_error).toBeUndefined();
		expect(statistics.toBytes().byteLength).toBe(24 + 12 * EXACT_PAIRS_LIMIT);
		statistics.add(-1, 0);
		expect(statistics.isSketched).toBe(false);
		statistics.add(-1, 0.5);
		expect(statistics.isSketched).toBe(true);
		const finished = statistics.finish([0, 50, 100]);
		expect(finished.count).toBe(EXACT_PAIRS_LIMIT + 0.5);
		expect(finished.percentiles.p0).toBe(-1);
		expect(finished.percentiles.p100).toBe(EXACT_PAIRS_LIMIT - 1);
	});

	for (const [name, draw] of Object.entries(DISTRIBUTIONS)) {
		it(`keeps the moments exact and the percentiles within the bound: ${name}`, () => {
			const data = pixels(name.length, draw);
			const statistics = accumulatePixels(data);
			statistics.addNodata(12.5);
			expect(statistics.isSketched).toBe(true);
			const finished = statistics.finish(PERCENTILES);
			expect(finished.nodata_count).toBe(12.5);
			const worst = expectWithinBounds(finished, data);
			expect(worst).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR);
			if (name === "constant")
				expect(Object.values(finished.percentiles)).toEqual(PERCENTILES.map(() => Math.fround(0.4217)));
		});
	}

	it("merges pairs into a sketch, a sketch into pairs, and pairs into pairs past the limit", () => {
		const data = pixels(77, DISTRIBUTIONS["lognormal (σ = 2)"] as Parameters<typeof pixels>[1], 2_400_000);
		const cuts = [0, 400_000, 1_800_000, 2_400_000] as const;
		const small = accumulatePixels(data, cuts[0], cuts[1]);
		const large = accumulatePixels(data, cuts[1], cuts[2]);
		const rest = accumulatePixels(data, cuts[2], cuts[3]);
		expect([small.isSketched, large.isSketched, rest.isSketched]).toEqual([false, true, false]);
		small.addMasked(3);
		rest.addNodata(1.25);

		const intoSketch = accumulatePixels(data, cuts[1], cuts[2]);
		intoSketch.merge(small);
		intoSketch.merge(rest);
		const intoPairs = accumulatePixels(data, cuts[0], cuts[1]);
		intoPairs.addMasked(3);
		intoPairs.merge(large);
		expect(intoPairs.isSketched).toBe(true);
		intoPairs.merge(rest);
		// Pair partials that pass the limit only once joined.
		const firstPairs = accumulatePixels(data, 0, 900_000);
		firstPairs.merge(accumulatePixels(data, 900_000, 1_000_000));
		expect(firstPairs.isSketched).toBe(false);
		firstPairs.merge(accumulatePixels(data, 1_000_000, 1_000_001));
		expect(firstPairs.isSketched).toBe(true);
		firstPairs.merge(accumulatePixels(data, 1_000_001, 2_400_000));

		// The partials merged from are left as they were.
		expect(small.isSketched).toBe(false);
		expect(small.toBytes().byteLength).toBe(24 + 12 * 400_000);
		for (const merged of [intoSketch, intoPairs]) {
			const finished = merged.finish(PERCENTILES);
			expect([finished.nodata_count, finished.masked_count]).toEqual([1.25, 3]);
			expectWithinBounds(finished, data);
		}
		expectWithinBounds(firstPairs.finish(PERCENTILES), data);
		// A key's weight is the same sum in any order but for rounding: the same keys are chosen.
		expect(intoPairs.finish(PERCENTILES).percentiles).toEqual(intoSketch.finish(PERCENTILES).percentiles);
	});

	it("sends a sketched partial as bytes and reads back the same statistics", () => {
		const data = pixels(3, DISTRIBUTIONS["Pareto (α = 1.1)"] as Parameters<typeof pixels>[1], 1_500_000);
		const sketched = accumulatePixels(data);
		sketched.addNodata(0.5);
		sketched.addMasked(7);
		const bytes = sketched.toBytes();
		expect(bytes.byteLength).toBeLessThan(600_000);
		const stored = new Uint8Array(bytes.byteLength + 5);
		stored.set(bytes, 5);
		const read = WeightedStatistics.fromBytes(stored.subarray(5));
		expect(read.isSketched).toBe(true);
		expect(read.finish(PERCENTILES)).toEqual(sketched.finish(PERCENTILES));
		expect(read.toBytes()).toEqual(bytes);
		// Merged with a pair partial read back from its bytes, as publish joins windows.
		const pairs = WeightedStatistics.fromBytes(accumulatePixels(data, 0, 1000).toBytes());
		read.merge(pairs);
		pairs.merge(WeightedStatistics.fromBytes(bytes));
		expect(pairs.finish(PERCENTILES).percentiles).toEqual(read.finish(PERCENTILES).percentiles);
		expect(() => WeightedStatistics.fromBytes(bytes.subarray(0, bytes.byteLength - 8))).toThrow(/bytes/);
	});

	it("stays under 600 KB as bytes even when every key of the sketch holds weight", () => {
		const random = seededRandom(99);
		const statistics = new WeightedStatistics();
		const bits = new Uint32Array(1);
		const float = new Float32Array(bits.buffer);
		for (let i = 0; i < SKETCHED_PIXELS; i++) {
			// Any finite float32: random bits, with an all-ones exponent (infinities and NaN) left out.
			do bits[0] = Math.floor(random() * 2 ** 32);
			while (((bits[0] as number) & 0x7f800000) === 0x7f800000);
			statistics.add(float[0] as number, 1);
		}
		expect(statistics.isSketched).toBe(true);
		const bytes = statistics.toBytes();
		expect(bytes.byteLength).toBeLessThan(600_000);
		expect(bytes.byteLength).toBeGreaterThan(500_000);
	});
});
