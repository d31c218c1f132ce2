/**
 * Every field's statistics on every date of a zonal job, joined from its windows: what publish's
 * first step stores and each later step reads, so that the windows are read once and each
 * artifact is made in an invocation of its own (publish.ts).
 *
 * The object, all little-endian: "EOZT", then three uint32s (the dates, the fields, the numbers
 * of a row of statistics); every date's rows of statistics one date after another (float64s,
 * statistics-rows.ts); every date's null flags (a byte per number); every date's weighed flags (a
 * byte per field: 1 where a window of that date weighed the field).
 */
import { StatisticsRows } from "./statistics-rows";

/** One date's statistics: every field's as a row (by field position), and which fields were weighed. */
export interface DateStatistics {
	rows: StatisticsRows;
	weighed: Uint8Array;
}

const MAGIC = [0x45, 0x4f, 0x5a, 0x54]; // "EOZT"
/** The magic and the counts: the rows that follow start on an 8-byte boundary. */
const PREFIX_BYTES = 16;

/** `fields` fields on each of `dates` dates, none weighed yet, every statistic null. */
export function emptyDateStatistics(
	dates: number,
	fields: number,
	percentileKeys: readonly string[],
): DateStatistics[] {
	return Array.from({ length: dates }, () => ({
		rows: new StatisticsRows(percentileKeys, fields),
		weighed: new Uint8Array(fields),
	}));
}

export function dateStatisticsBytes(dates: readonly DateStatistics[], fields: number, width: number): Uint8Array {
	const layout = tableLayout(dates.length, fields, width);
	const stored = new Uint8Array(layout.end);
	stored.set(MAGIC);
	new Uint32Array(stored.buffer, 4, 3).set([dates.length, fields, width]);
	const values = new Float64Array(stored.buffer, PREFIX_BYTES, dates.length * fields * width);
	dates.forEach(({ rows, weighed }, d) => {
		if (rows.width !== width || rows.values.length !== fields * width || weighed.length !== fields) {
			throw new Error(`date ${d}'s statistics are not ${fields} rows of ${width}`);
		}
		values.set(rows.values, d * fields * width);
		stored.set(rows.nulls, layout.nulls + d * fields * width);
		stored.set(weighed, layout.weighed + d * fields);
	});
	return stored;
}

/**
 * The dates' statistics {@link dateStatisticsBytes} stored, for a job of `dates` dates, `fields`
 * fields and the percentiles of `percentileKeys`; views of `stored`, which the caller hands over.
 */
export function readDateStatistics(
	stored: Uint8Array,
	expected: { dates: number; fields: number },
	percentileKeys: readonly string[],
): DateStatistics[] {
	if (stored.byteLength < PREFIX_BYTES || !MAGIC.every((byte, i) => stored[i] === byte)) {
		throw new Error("the stored statistics are not a table of dates' statistics");
	}
	// Copied to a buffer of their own where the table does not start on an 8-byte boundary.
	const bytes = stored.byteOffset % 8 === 0 ? stored : stored.slice();
	const { buffer, byteOffset: start } = bytes;
	const [dates = 0, fields = 0, width = 0] = new Uint32Array(buffer, start + 4, 3);
	if (dates !== expected.dates || fields !== expected.fields || width !== StatisticsRows.width(percentileKeys.length)) {
		throw new Error(
			`the stored statistics hold ${dates} dates of ${fields} fields of ${width}, not the job's ${expected.dates} of ${expected.fields} of ${StatisticsRows.width(percentileKeys.length)}`,
		);
	}
	const layout = tableLayout(dates, fields, width);
	if (bytes.byteLength !== layout.end)
		throw new Error(`the stored statistics are ${bytes.byteLength} bytes, not ${layout.end}`);
	const numbers = fields * width;
	return Array.from({ length: dates }, (_, d) => ({
		rows: new StatisticsRows(
			percentileKeys,
			fields,
			new Float64Array(buffer, start + PREFIX_BYTES + 8 * d * numbers, numbers),
			bytes.subarray(layout.nulls + d * numbers, layout.nulls + (d + 1) * numbers),
		),
		weighed: bytes.subarray(layout.weighed + d * fields, layout.weighed + (d + 1) * fields),
	}));
}

/** Where the null flags and the weighed flags start, and where the table ends. */
function tableLayout(dates: number, fields: number, width: number) {
	const nulls = PREFIX_BYTES + 8 * dates * fields * width;
	const weighed = nulls + dates * fields * width;
	return { nulls, weighed, end: weighed + dates * fields };
}
