/**
 * Every field's statistics on every date of a zonal job, joined from its windows: what publish's
 * first step fills in and stores and each later step reads, so that the windows are read once and
 * each artifact is made in an invocation of its own (publish.ts). A date here is a date of the
 * series as the outputs list it: an acquisition of several STAC items is one.
 *
 * The object, in the platform's byte order (little-endian wherever Workers run): "EOZT", then
 * three uint32s (the dates, the fields, the numbers of a row of statistics); every date's rows of
 * statistics one date after another (float64s, statistics-rows.ts); every date's null flags (a
 * byte per number); every date's weighed flags (a byte per field: 1 where a window of that date
 * weighed the field).
 */
import { eightByteAligned, startsWith } from "../../bytes";
import { StatisticsRows } from "./statistics-rows";

/** One date's statistics: every field's as a row (by field position), and which fields were weighed. */
export interface DateStatistics {
	rows: StatisticsRows;
	weighed: Uint8Array;
}

const MAGIC = [0x45, 0x4f, 0x5a, 0x54]; // "EOZT"
/** The magic and the counts: the rows that follow start on an 8-byte boundary. */
const PREFIX_BYTES = 16;

/**
 * `fields` fields on each of `dates` dates, none weighed yet, every statistic null: the table's
 * bytes, and each date's statistics as views of them, so that what is filled in is stored as it is
 * (a copy was a second table's worth of memory: 11 MiB at a hundred dates of a thousand fields).
 */
export function newDateStatistics(
	dates: number,
	fields: number,
	percentileKeys: readonly string[],
): { bytes: Uint8Array; dates: DateStatistics[] } {
	const width = StatisticsRows.width(percentileKeys.length);
	const layout = tableLayout(dates, fields, width);
	const bytes = new Uint8Array(layout.end);
	bytes.set(MAGIC);
	new Uint32Array(bytes.buffer, 4, 3).set([dates, fields, width]);
	bytes.fill(1, layout.nulls, layout.weighed);
	return { bytes, dates: viewsOf(bytes, dates, fields, percentileKeys, layout) };
}

/**
 * The dates' statistics a table {@link newDateStatistics} made holds, for a job of `dates` dates,
 * `fields` fields and the percentiles of `percentileKeys`; views of `stored`, which the caller
 * hands over.
 */
export function readDateStatistics(
	stored: Uint8Array,
	expected: { dates: number; fields: number },
	percentileKeys: readonly string[],
): DateStatistics[] {
	if (stored.byteLength < PREFIX_BYTES || !startsWith(stored, MAGIC)) {
		throw new Error("the stored statistics are not a table of dates' statistics");
	}
	const bytes = eightByteAligned(stored);
	const [dates = 0, fields = 0, width = 0] = new Uint32Array(bytes.buffer, bytes.byteOffset + 4, 3);
	if (dates !== expected.dates || fields !== expected.fields || width !== StatisticsRows.width(percentileKeys.length)) {
		throw new Error(
			`the stored statistics hold ${dates} dates of ${fields} fields of ${width}, not the job's ${expected.dates} of ${expected.fields} of ${StatisticsRows.width(percentileKeys.length)}`,
		);
	}
	const layout = tableLayout(dates, fields, width);
	if (bytes.byteLength !== layout.end)
		throw new Error(`the stored statistics are ${bytes.byteLength} bytes, not ${layout.end}`);
	return viewsOf(bytes, dates, fields, percentileKeys, layout);
}

/** Each date's statistics as views of the table `bytes` (which start on an 8-byte boundary). */
function viewsOf(
	bytes: Uint8Array,
	dates: number,
	fields: number,
	percentileKeys: readonly string[],
	layout: ReturnType<typeof tableLayout>,
): DateStatistics[] {
	const numbers = fields * StatisticsRows.width(percentileKeys.length);
	return Array.from({ length: dates }, (_, d) => ({
		rows: new StatisticsRows(
			percentileKeys,
			fields,
			new Float64Array(bytes.buffer, bytes.byteOffset + PREFIX_BYTES + 8 * d * numbers, numbers),
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
