/**
 * What a zonal window stores for publish: its finished fields' statistics, and the partial
 * weighings (the accumulators' bytes) of the fields its edge cuts. Compute writes one object per
 * window; publish reads every window of the job, one after another.
 *
 * The object, all little-endian: "EOZS", then three uint32s (the finished fields, the numbers of
 * a row of statistics, the partials); the finished fields' rows of statistics
 * (statistics-rows.ts: float64s, then a byte per number flagging nulls); the finished fields'
 * positions (uint32s); each partial's position and byte length (two uint32s); then each partial's
 * bytes, each from an 8-byte boundary so that its accumulator can view them in place. Nothing of
 * it is text: a JSON header of the statistics, parsed into an object per field and date, was much
 * of what publish allocated (bench:fields), as the partials as base64 text had been before.
 *
 * A window stored by a deploy before this format, for a job in flight across it, is still read:
 * "EOZW" (a JSON header of the statistics and of the partials' lengths, then the partials' bytes)
 * or JSON with base64 partials.
 */
import { fromBase64 } from "../../base64";
import { eightByteAligned, startsWith } from "../../bytes";
import type { ZoneStatistics } from "./statistics";
import { StatisticsRows } from "./statistics-rows";

const MAGIC = [0x45, 0x4f, 0x5a, 0x53]; // "EOZS"
/** The magic and the counts. */
const PREFIX_BYTES = 16;
const ALIGNMENT = 8;
/** "EOZW": statistics in a JSON header. */
const JSON_HEADER_MAGIC = [0x45, 0x4f, 0x5a, 0x57];
const JSON_HEADER_PREFIX_BYTES = 8;
/** "{", which the JSON a window was stored as before either format starts with. */
const JSON_OBJECT_START = 0x7b;

/** A window's fields as publish reads them. */
export interface WindowFields {
	/** The fields the window holds whole: their positions, and their statistics row by row in the same order. */
	finished: { fields: ArrayLike<number>; statistics: StatisticsRows };
	/** Field position → its weighed values so far (an accumulator's bytes), for a field cut by the window's edge. */
	partial: [number, Uint8Array][];
}

const aligned = (bytes: number) => Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;

/** A window's fields as compute weighs them, one at a time, into the stored object. */
export class WindowFieldsWriter {
	private readonly finished: [number, ZoneStatistics][] = [];
	private readonly partial: [number, Uint8Array][] = [];

	/** For a job whose statistics have the percentiles of `percentileKeys`. */
	constructor(private readonly percentileKeys: readonly string[]) {}

	finish(field: number, statistics: ZoneStatistics): void {
		this.finished.push([field, statistics]);
	}

	/** A field cut by the window's edge: its accumulator's bytes, which the writer keeps. */
	cut(field: number, partial: Uint8Array): void {
		this.partial.push([field, partial]);
	}

	get partialFields(): number {
		return this.partial.length;
	}

	toBytes(): Uint8Array {
		const finished = this.finished.length;
		const width = StatisticsRows.width(this.percentileKeys.length);
		const layout = windowLayout(finished, width, this.partial.length);
		const size = this.partial.reduce((end, [, bytes]) => aligned(end + bytes.byteLength), layout.partials);
		const stored = new Uint8Array(size);
		stored.set(MAGIC);
		const counts = new Uint32Array(stored.buffer, 4, 3);
		counts.set([finished, width, this.partial.length]);
		const rows = new StatisticsRows(
			this.percentileKeys,
			finished,
			new Float64Array(stored.buffer, PREFIX_BYTES, finished * width),
			stored.subarray(layout.nulls, layout.nulls + finished * width),
		);
		for (let row = 0; row < finished; row++) rows.set(row, (this.finished[row] as [number, ZoneStatistics])[1]);
		asJsonStoredThem(rows);
		new Uint32Array(stored.buffer, layout.fields, finished).set(this.finished.map(([field]) => field));
		new Uint32Array(stored.buffer, layout.partialIndex, 2 * this.partial.length).set(
			this.partial.flatMap(([field, bytes]) => [field, bytes.byteLength]),
		);
		let at = layout.partials;
		for (const [, bytes] of this.partial) {
			stored.set(bytes, at);
			at = aligned(at + bytes.byteLength);
		}
		return stored;
	}
}

/** Where each part of a window starts. */
function windowLayout(finished: number, width: number, partials: number) {
	const nulls = PREFIX_BYTES + 8 * finished * width;
	const fields = aligned(nulls + finished * width);
	const partialIndex = fields + 4 * finished;
	return { nulls, fields, partialIndex, partials: aligned(partialIndex + 8 * partials) };
}

/**
 * The finished fields' statistics as the JSON header of "EOZW" stored them, so that a field's
 * outputs do not depend on the format its window was stored in: a statistic that is not finite
 * null, and -0 as 0.
 */
function asJsonStoredThem({ values, nulls }: StatisticsRows): void {
	for (let i = 0; i < values.length; i++) {
		const value = values[i] as number;
		if (!Number.isFinite(value)) {
			values[i] = 0;
			nulls[i] = 1;
		} else if (value === 0) values[i] = 0;
	}
}

/**
 * The fields of a stored window, for a job whose statistics have the percentiles of
 * `percentileKeys`; its statistics and partials are views of `stored`, which the caller hands over.
 */
export function readWindowFields(stored: Uint8Array, percentileKeys: readonly string[]): WindowFields {
	if (stored[0] === JSON_OBJECT_START) return readJsonWindow(stored, percentileKeys);
	if (startsWith(stored, JSON_HEADER_MAGIC)) return readJsonHeaderWindow(stored, percentileKeys);
	if (!startsWith(stored, MAGIC) || stored.byteLength < PREFIX_BYTES) {
		throw new Error("a stored window is none of the formats windows are stored in");
	}
	const bytes = eightByteAligned(stored);
	const { buffer, byteOffset: start } = bytes;
	const [finished = 0, width = 0, partials = 0] = new Uint32Array(buffer, start + 4, 3);
	if (width !== StatisticsRows.width(percentileKeys.length)) {
		throw new Error(
			`a stored window has ${width} statistics a field, not the job's ${percentileKeys.length} percentiles`,
		);
	}
	const layout = windowLayout(finished, width, partials);
	if (layout.partials > bytes.byteLength) throw new Error("a stored window ends inside its statistics");
	const statistics = new StatisticsRows(
		percentileKeys,
		finished,
		new Float64Array(buffer, start + PREFIX_BYTES, finished * width),
		bytes.subarray(layout.nulls, layout.nulls + finished * width),
	);
	const fields = new Uint32Array(buffer, start + layout.fields, finished);
	const index = new Uint32Array(buffer, start + layout.partialIndex, 2 * partials);
	let at = layout.partials;
	const partial: [number, Uint8Array][] = [];
	for (let i = 0; i < partials; i++) {
		const field = index[2 * i] as number;
		const length = index[2 * i + 1] as number;
		if (at + length > bytes.byteLength) throw new Error(`a stored window ends inside the partial of field ${field}`);
		partial.push([field, bytes.subarray(at, at + length)]);
		at = aligned(at + length);
	}
	return { finished: { fields, statistics }, partial };
}

/** A window stored as "EOZW": a JSON header of the statistics and of the partials' lengths, then their bytes. */
function readJsonHeaderWindow(stored: Uint8Array, percentileKeys: readonly string[]): WindowFields {
	if (stored.byteLength < JSON_HEADER_PREFIX_BYTES) throw new Error("a stored window ends inside its header");
	const length = new DataView(stored.buffer, stored.byteOffset).getUint32(4, true);
	const header = JSON.parse(
		new TextDecoder().decode(stored.subarray(JSON_HEADER_PREFIX_BYTES, JSON_HEADER_PREFIX_BYTES + length)),
	) as { finished: Record<string, ZoneStatistics>; partial: [number, number][] };
	let at = aligned(JSON_HEADER_PREFIX_BYTES + length);
	const partial = header.partial.map(([field, bytes]): [number, Uint8Array] => {
		if (at + bytes > stored.byteLength) throw new Error(`a stored window ends inside the partial of field ${field}`);
		const view = stored.subarray(at, at + bytes);
		at = aligned(at + bytes);
		return [field, view];
	});
	return { finished: finishedRows(header.finished, percentileKeys), partial };
}

/** A window stored as JSON, its partials base64. */
function readJsonWindow(stored: Uint8Array, percentileKeys: readonly string[]): WindowFields {
	const fields = JSON.parse(new TextDecoder().decode(stored)) as {
		finished: Record<string, ZoneStatistics>;
		partial: Record<string, string>;
	};
	return {
		finished: finishedRows(fields.finished, percentileKeys),
		partial: Object.entries(fields.partial).map(([field, text]) => [Number(field), fromBase64(text)]),
	};
}

function finishedRows(byField: Record<string, ZoneStatistics>, percentileKeys: readonly string[]) {
	const entries = Object.entries(byField);
	const statistics = new StatisticsRows(percentileKeys, entries.length);
	for (let row = 0; row < entries.length; row++) statistics.set(row, (entries[row] as [string, ZoneStatistics])[1]);
	return { fields: entries.map(([field]) => Number(field)), statistics };
}
