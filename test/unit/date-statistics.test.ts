import { describe, expect, it } from "vitest";
import { newDateStatistics, readDateStatistics } from "../../src/processes/zonal/date-statistics";
import type { ZoneStatistics } from "../../src/processes/zonal/statistics";

const KEYS = ["p2", "p50", "p98"];

const statistics = (mean: number | null, extra: Partial<ZoneStatistics> = {}): ZoneStatistics => ({
	count: 3.25,
	nodata_count: 0.5,
	masked_count: 0,
	valid_fraction: 0.8666666666666667,
	mean,
	std: mean === null ? null : 0.125,
	min: mean === null ? null : -0,
	max: mean === null ? null : 0.75,
	sum: mean === null ? null : 3.25 * mean,
	percentiles: { p2: mean, p50: mean === null ? null : Number.NaN, p98: mean },
	...extra,
});

describe("the table of a zonal job's statistics, date by date", () => {
	it("gives back every date's rows and which fields each date weighed, as they were stored", () => {
		const { bytes: stored, dates } = newDateStatistics(3, 4, KEYS);
		const set: [number, number, ZoneStatistics][] = [
			[0, 0, statistics(0.5)],
			[0, 3, statistics(null)],
			[1, 2, statistics(-0.25, { percentile_relative_error: 2 ** -7 })],
			[2, 1, statistics(Number.POSITIVE_INFINITY)],
		];
		for (const [d, f, value] of set) {
			dates[d]?.rows.set(f, value);
			(dates[d] as { weighed: Uint8Array }).weighed[f] = 1;
		}
		// At an offset that is no multiple of 8, as a view into a larger buffer may be.
		const shifted = new Uint8Array(stored.byteLength + 3);
		shifted.set(stored, 3);
		for (const bytes of [stored, shifted.subarray(3)]) {
			const read = readDateStatistics(bytes, { dates: 3, fields: 4 }, KEYS);
			expect(read).toHaveLength(3);
			for (let d = 0; d < 3; d++) {
				for (let f = 0; f < 4; f++) {
					const entry = set.find(([date, field]) => date === d && field === f);
					expect(read[d]?.weighed[f], `date ${d} field ${f}`).toBe(entry ? 1 : 0);
					expect(read[d]?.rows.get(f), `date ${d} field ${f}`).toEqual(entry ? entry[2] : dates[d]?.rows.get(f));
				}
			}
		}
	});

	it("refuses bytes that are not a table, or not the job's", () => {
		const stored = newDateStatistics(2, 5, KEYS).bytes;
		expect(() =>
			readDateStatistics(new TextEncoder().encode('{"finished":{}}'), { dates: 2, fields: 5 }, KEYS),
		).toThrow(/not a table/);
		expect(() => readDateStatistics(stored, { dates: 3, fields: 5 }, KEYS)).toThrow(/hold 2 dates of 5 fields/);
		expect(() => readDateStatistics(stored, { dates: 2, fields: 4 }, KEYS)).toThrow(/not the job's 2 of 4/);
		expect(() => readDateStatistics(stored, { dates: 2, fields: 5 }, ["p50"])).toThrow(
			/of 13, not the job.s 2 of 5 of 11/,
		);
		expect(() => readDateStatistics(stored.subarray(0, stored.byteLength - 1), { dates: 2, fields: 5 }, KEYS)).toThrow(
			/bytes, not/,
		);
	});
});
