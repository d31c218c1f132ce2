import { describe, expect, it } from "vitest";
import type { ZoneStatistics } from "../../src/processes/zonal/statistics";
import { StatisticsRows } from "../../src/processes/zonal/statistics-rows";

const statistics = (overrides: Partial<ZoneStatistics>): ZoneStatistics => ({
	count: 4.5,
	nodata_count: 0.25,
	masked_count: 0,
	valid_fraction: 0.95,
	mean: 0.5,
	std: 0.125,
	min: -0.25,
	max: 0.75,
	sum: 2.25,
	percentiles: { p2: -0.25, "p99.5": 0.75 },
	...overrides,
});

describe("statistics as rows", () => {
	it("gives back each row's statistics as they were set: nulls, NaN, -0 and the sketch's error bound", () => {
		const rows = new StatisticsRows(["p2", "p99.5"], 3);
		const set = [
			statistics({ percentile_relative_error: 2 ** -7 }),
			statistics({ valid_fraction: null, mean: Number.NaN, min: -0, percentiles: { p2: null, "p99.5": Number.NaN } }),
		];
		rows.set(2, set[0] as ZoneStatistics);
		rows.set(0, set[1] as ZoneStatistics);
		expect(rows.get(2)).toEqual(set[0]);
		expect(rows.get(0)).toEqual(set[1]);
		expect(Object.is(rows.get(0).min, -0)).toBe(true);
		expect("percentile_relative_error" in rows.get(0)).toBe(false);
		expect(rows.get(2).count).toBe(4.5);

		const copied = new StatisticsRows(["p2", "p99.5"], 5);
		copied.copy(rows, 2, 4);
		expect(copied.get(4)).toEqual(set[0]);
		expect(() => new StatisticsRows(["p2"], 1).copy(rows, 0, 0)).toThrow(/not one of/);
	});

	it("refuses statistics without a requested percentile", () => {
		const rows = new StatisticsRows(["p50"], 1);
		expect(() => rows.set(0, statistics({}))).toThrow(/requested percentile p50/);
	});
});
