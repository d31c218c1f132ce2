/**
 * Fields' statistics as rows of numbers in one array, rather than an object per field and date:
 * publish holds every field's statistics on every date (bench:fields' spread: 10 000), and a
 * window stores its finished fields' rows as they are. As objects, parsed from each window's JSON
 * and held to the end, they were a large share of what publish allocated (bench:fields).
 *
 * A row: count, nodata_count, masked_count, valid_fraction, mean, std, min, max, sum,
 * percentile_relative_error, then the percentiles in the request's order. Which statistics are
 * null (percentile_relative_error: absent) is kept apart, a byte each, since NaN can be a
 * statistic's value (the mean of +Infinity and -Infinity).
 */
import type { ZoneStatistics } from "./statistics";

const MEASURES = ["valid_fraction", "mean", "std", "min", "max", "sum"] as const;
const COUNT = 0;
const NODATA_COUNT = 1;
const MASKED_COUNT = 2;
const FIRST_MEASURE = 3;
const RELATIVE_ERROR = FIRST_MEASURE + MEASURES.length;
const FIRST_PERCENTILE = RELATIVE_ERROR + 1;

export class StatisticsRows {
	/** Numbers a row holds. */
	readonly width: number;

	/**
	 * `rows` rows for the percentiles of `percentileKeys`, all null, or the rows `values` and
	 * `nulls` hold (e.g. views of a stored window).
	 */
	constructor(
		readonly percentileKeys: readonly string[],
		rows: number,
		readonly values: Float64Array = new Float64Array(rows * StatisticsRows.width(percentileKeys.length)),
		readonly nulls: Uint8Array = new Uint8Array(rows * StatisticsRows.width(percentileKeys.length)).fill(1),
	) {
		this.width = StatisticsRows.width(percentileKeys.length);
		if (values.length !== rows * this.width || nulls.length !== rows * this.width) {
			throw new Error(`${rows} rows of statistics are not ${values.length} numbers and ${nulls.length} flags`);
		}
	}

	/** Numbers a row holds with `percentiles` percentiles. */
	static width(percentiles: number): number {
		return FIRST_PERCENTILE + percentiles;
	}

	set(row: number, statistics: ZoneStatistics): void {
		const at = row * this.width;
		const put = (i: number, value: number | null | undefined) => {
			this.values[at + i] = value ?? 0;
			this.nulls[at + i] = value === null || value === undefined ? 1 : 0;
		};
		put(COUNT, statistics.count);
		put(NODATA_COUNT, statistics.nodata_count);
		put(MASKED_COUNT, statistics.masked_count);
		for (let i = 0; i < MEASURES.length; i++)
			put(FIRST_MEASURE + i, statistics[MEASURES[i] as (typeof MEASURES)[number]]);
		put(RELATIVE_ERROR, statistics.percentile_relative_error);
		for (let i = 0; i < this.percentileKeys.length; i++) {
			const key = this.percentileKeys[i] as string;
			const value = statistics.percentiles[key];
			if (value === undefined) throw new Error(`statistics without the requested percentile ${key}`);
			put(FIRST_PERCENTILE + i, value);
		}
	}

	/** Row `row` of `from`, whose percentiles are the same, as this one's row `to`. */
	copy(from: StatisticsRows, row: number, to: number): void {
		if (from.width !== this.width) throw new Error(`a row of ${from.width} statistics is not one of ${this.width}`);
		// Number by number: two views a row to set from were most of what reading windows allocated.
		const start = row * from.width;
		const at = to * this.width;
		for (let i = 0; i < this.width; i++) {
			this.values[at + i] = from.values[start + i] as number;
			this.nulls[at + i] = from.nulls[start + i] as number;
		}
	}

	/** The row as the outputs take it: a new object each time, let go as soon as it is written. */
	get(row: number): ZoneStatistics {
		const at = row * this.width;
		const percentiles: Record<string, number | null> = {};
		for (let i = 0; i < this.percentileKeys.length; i++) {
			percentiles[this.percentileKeys[i] as string] = this.value(at + FIRST_PERCENTILE + i);
		}
		const statistics: ZoneStatistics = {
			count: this.values[at + COUNT] as number,
			nodata_count: this.values[at + NODATA_COUNT] as number,
			masked_count: this.values[at + MASKED_COUNT] as number,
			valid_fraction: this.value(at + FIRST_MEASURE),
			mean: this.value(at + FIRST_MEASURE + 1),
			std: this.value(at + FIRST_MEASURE + 2),
			min: this.value(at + FIRST_MEASURE + 3),
			max: this.value(at + FIRST_MEASURE + 4),
			sum: this.value(at + FIRST_MEASURE + 5),
			percentiles,
		};
		const relativeError = this.value(at + RELATIVE_ERROR);
		if (relativeError !== null) statistics.percentile_relative_error = relativeError;
		return statistics;
	}

	private value(at: number): number | null {
		return this.nulls[at] === 1 ? null : (this.values[at] as number);
	}
}
