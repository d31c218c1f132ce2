import { describe, expect, it } from "vitest";
import { base64 } from "../../src/base64";
import { missedField, type ZoneStatistics } from "../../src/processes/zonal/statistics";
import { WeightedStatistics } from "../../src/processes/zonal/weighted-statistics";
import { readWindowFields, type WindowFields, WindowFieldsWriter } from "../../src/processes/zonal/window-fields";

const request = { index: "ndvi", inputs: {}, percentiles: [10, 90] } as unknown as Parameters<typeof missedField>[0];
const keys = ["p10", "p90"];

/** The finished fields a window read holds, by position. */
function finishedOf({ finished }: WindowFields): Map<number, ZoneStatistics> {
	return new Map(Array.from(finished.fields, (field, row) => [field, finished.statistics.get(row)]));
}

/** An accumulator of `pairs` valid pixels: its bytes are 24 + 12 x pairs long, so not a multiple of 8 when pairs is odd. */
function partial(pairs: number, seed: number): WeightedStatistics {
	const accumulator = new WeightedStatistics();
	for (let i = 0; i < pairs; i++) accumulator.add(Math.sin(seed + i), 0.25 + (i % 4) / 4);
	accumulator.addNodata(seed);
	return accumulator;
}

describe("a zonal window's stored fields", () => {
	it("reads back what compute wrote: statistics as they were, partials as views on 8-byte boundaries", () => {
		const writer = new WindowFieldsWriter(keys);
		const finished = { ...missedField(request), count: 3.5, mean: 0.25, percentile_relative_error: 2 ** -8 };
		writer.finish(7, finished);
		writer.finish(12, missedField(request));
		const cut = [
			[3, partial(3, 1)],
			[40, partial(0, 2)],
			[9, partial(101, 3)],
		] as const;
		for (const [field, accumulator] of cut) writer.cut(field, accumulator.toBytes());
		expect(writer.partialFields).toBe(3);

		const stored = new Uint8Array(writer.toBytes());
		const fields = readWindowFields(stored, keys);
		expect(finishedOf(fields)).toEqual(
			new Map([
				[7, finished],
				[12, missedField(request)],
			]),
		);
		expect(fields.partial.map(([field]) => field)).toEqual([3, 40, 9]);
		fields.partial.forEach(([, bytes], i) => {
			const accumulator = (cut[i] as (typeof cut)[number])[1];
			expect(bytes.byteOffset % 8).toBe(0);
			expect(bytes.buffer).toBe(stored.buffer);
			expect(bytes).toEqual(accumulator.toBytes());
			expect(WeightedStatistics.fromBytes(bytes).finish([10, 90])).toEqual(accumulator.finish([10, 90]));
		});
	});

	it("reads a window stored as JSON with base64 partials, as deploys before the format stored them", () => {
		const accumulator = partial(5, 4);
		const legacy = JSON.stringify({
			finished: { 2: missedField(request) },
			partial: { 5: base64(accumulator.toBytes()) },
		});
		const fields = readWindowFields(new TextEncoder().encode(legacy), keys);
		expect(finishedOf(fields)).toEqual(new Map([[2, missedField(request)]]));
		expect(fields.partial.map(([field]) => field)).toEqual([5]);
		expect(fields.partial[0]?.[1]).toEqual(accumulator.toBytes());
	});

	it("reads a window stored as EOZW, its statistics in a JSON header, as deploys before the format stored them", () => {
		const accumulator = partial(7, 6);
		const finished = { ...missedField(request), count: 2, mean: -0.5, percentiles: { p10: -0.75, p90: null } };
		const bytes = accumulator.toBytes();
		const header = new TextEncoder().encode(
			JSON.stringify({ finished: { 4: finished }, partial: [[8, bytes.byteLength]] }),
		);
		const start = Math.ceil((8 + header.byteLength) / 8) * 8;
		const stored = new Uint8Array(start + bytes.byteLength);
		stored.set([0x45, 0x4f, 0x5a, 0x57]);
		new DataView(stored.buffer).setUint32(4, header.byteLength, true);
		stored.set(header, 8);
		stored.set(bytes, start);
		const fields = readWindowFields(stored, keys);
		expect(finishedOf(fields)).toEqual(new Map([[4, finished]]));
		expect(fields.partial).toEqual([[8, bytes]]);
		expect(fields.partial[0]?.[1].buffer).toBe(stored.buffer);
	});

	it("stores finished statistics as a JSON header did: not finite as null, -0 as 0", () => {
		const writer = new WindowFieldsWriter(keys);
		const odd = {
			...missedField(request),
			count: 2,
			mean: Number.NaN,
			sum: Number.NaN,
			max: Number.POSITIVE_INFINITY,
			min: -0,
			percentiles: { p10: Number.NEGATIVE_INFINITY, p90: -0 },
		};
		writer.finish(1, odd);
		const [read] = finishedOf(readWindowFields(writer.toBytes(), keys)).values();
		expect(read).toEqual(JSON.parse(JSON.stringify(odd)));
		expect(Object.is(read?.min, 0) && Object.is(read?.percentiles.p90, 0)).toBe(true);
	});

	it("refuses a window whose statistics are not the job's percentiles", () => {
		const writer = new WindowFieldsWriter(keys);
		writer.finish(1, missedField(request));
		expect(() => readWindowFields(writer.toBytes(), ["p50"])).toThrow(/not the job's 1 percentiles/);
	});

	it("refuses bytes of none of the formats, and a window cut short", () => {
		expect(() => readWindowFields(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), keys)).toThrow(/none of the formats/);
		const writer = new WindowFieldsWriter(keys);
		writer.cut(1, partial(10, 5).toBytes());
		const stored = writer.toBytes();
		expect(() => readWindowFields(stored.subarray(0, stored.byteLength - 16), keys)).toThrow(
			/ends inside the partial of field 1/,
		);
	});
});
