import { describe, expect, it } from "vitest";
import { type FeatureStatistics, WeightedStatistics } from "../../src/processes/zonal/weighted-statistics";
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
