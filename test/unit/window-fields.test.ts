import { describe, expect, it } from "vitest";
import { base64 } from "../../src/base64";
import { missedField } from "../../src/processes/zonal/statistics";
import { WeightedStatistics } from "../../src/processes/zonal/weighted-statistics";
import { readWindowFields, WindowFieldsWriter } from "../../src/processes/zonal/window-fields";

const request = { index: "ndvi", inputs: {}, percentiles: [10, 90] } as unknown as Parameters<typeof missedField>[0];

/** An accumulator of `pairs` valid pixels: its bytes are 24 + 12 x pairs long, so not a multiple of 8 when pairs is odd. */
function partial(pairs: number, seed: number): WeightedStatistics {
	const accumulator = new WeightedStatistics();
	for (let i = 0; i < pairs; i++) accumulator.add(Math.sin(seed + i), 0.25 + (i % 4) / 4);
	accumulator.addNodata(seed);
	return accumulator;
}

describe("a zonal window's stored fields", () => {
	it("reads back what compute wrote: statistics as they were, partials as views on 8-byte boundaries", () => {
		const writer = new WindowFieldsWriter();
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
		const fields = readWindowFields(stored);
		expect(new Map(fields.finished)).toEqual(
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
		const fields = readWindowFields(new TextEncoder().encode(legacy));
		expect(fields.finished).toEqual([[2, missedField(request)]]);
		expect(fields.partial.map(([field]) => field)).toEqual([5]);
		expect(fields.partial[0]?.[1]).toEqual(accumulator.toBytes());
	});

	it("refuses bytes of neither format, and a window cut short", () => {
		expect(() => readWindowFields(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/neither of the formats/);
		const writer = new WindowFieldsWriter();
		writer.cut(1, partial(10, 5).toBytes());
		const stored = writer.toBytes();
		expect(() => readWindowFields(stored.subarray(0, stored.byteLength - 16))).toThrow(
			/ends inside the partial of field 1/,
		);
	});
});
