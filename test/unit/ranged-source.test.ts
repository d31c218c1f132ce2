/** The ranged source: reads merged across concurrent requests, blocks cached, errors not. */
import { describe, expect, it } from "vitest";
import { RangedSource, type RangeReader } from "../../src/raster/ranged-source";

const BLOCK = 16;

/** A file of `size` pseudo-random bytes whose reader records every read it serves. */
function recordingReader(size: number, failReads = 0) {
	const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7919 + 13) % 251);
	const reads: [number, number][] = [];
	let failuresLeft = failReads;
	const reader: RangeReader = {
		size,
		async read(offset, length) {
			reads.push([offset, length]);
			if (failuresLeft > 0) {
				failuresLeft--;
				throw new Error("storage hiccup");
			}
			return bytes.slice(offset, offset + length).buffer;
		},
	};
	return { bytes, reads, reader };
}

const slice = (bytes: Uint8Array, offset: number, length: number) =>
	Array.from(bytes.subarray(offset, offset + length));

describe("RangedSource", () => {
	it("serves each slice's bytes, merging the blocks of concurrent requests into one read per run", async () => {
		const { bytes, reads, reader } = recordingReader(20 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		// Three tiles stored one after the other, requested separately as geotiff.js does,
		// and one far away.
		const requests = [
			[5, 20],
			[25, 30],
			[55, 9],
			[196, 10],
		] as const;
		const results = await Promise.all(requests.map(([offset, length]) => source.fetch([{ offset, length }])));
		results.forEach(([data], i) => {
			const [offset, length] = requests[i] ?? [0, 0];
			expect(Array.from(new Uint8Array(data ?? new ArrayBuffer(0)))).toEqual(slice(bytes, offset, length));
		});
		expect(reads.sort((a, b) => a[0] - b[0])).toEqual([
			[0, 4 * BLOCK],
			[12 * BLOCK, BLOCK],
		]);
	});

	it("answers repeated reads from its block cache", async () => {
		const { bytes, reads, reader } = recordingReader(10 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK, cacheBlocks: 4 });
		await source.fetch([{ offset: 0, length: 40 }]);
		const [again] = await source.fetch([{ offset: 3, length: 30 }]);
		expect(Array.from(new Uint8Array(again ?? new ArrayBuffer(0)))).toEqual(slice(bytes, 3, 30));
		expect(reads).toEqual([[0, 3 * BLOCK]]);
	});

	it("evicts the least recently used blocks beyond its capacity", async () => {
		const { reads, reader } = recordingReader(10 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK, cacheBlocks: 2 });
		await source.fetch([{ offset: 0, length: 1 }]);
		await source.fetch([{ offset: BLOCK, length: 1 }]);
		await source.fetch([{ offset: 0, length: 1 }]); // block 0 is now the most recent
		await source.fetch([{ offset: 2 * BLOCK, length: 1 }]); // evicts block 1
		await source.fetch([{ offset: 0, length: 1 }]);
		await source.fetch([{ offset: BLOCK, length: 1 }]);
		expect(reads.map(([offset]) => offset / BLOCK)).toEqual([0, 1, 2, 1]);
	});

	it("splits runs longer than the largest read", async () => {
		const { reads, reader } = recordingReader(10 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK, maxReadBytes: 3 * BLOCK });
		await source.fetch([{ offset: 0, length: 7 * BLOCK }]);
		expect(reads).toEqual([
			[0, 3 * BLOCK],
			[3 * BLOCK, 3 * BLOCK],
			[6 * BLOCK, BLOCK],
		]);
	});

	it("cuts slices at the end of the file and never reads past it", async () => {
		const size = 3 * BLOCK + 5;
		const { bytes, reads, reader } = recordingReader(size);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		const [data] = await source.fetch([{ offset: 2 * BLOCK, length: 1024 }]);
		expect(Array.from(new Uint8Array(data ?? new ArrayBuffer(0)))).toEqual(slice(bytes, 2 * BLOCK, BLOCK + 5));
		expect(reads).toEqual([[2 * BLOCK, BLOCK + 5]]);
	});

	it("passes a failed read to every request that waited for it, and does not cache the failure", async () => {
		const { bytes, reads, reader } = recordingReader(4 * BLOCK, 1);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		const attempts = await Promise.allSettled([
			source.fetch([{ offset: 0, length: 10 }]),
			source.fetch([{ offset: 10, length: 10 }]),
		]);
		expect(attempts.map((attempt) => attempt.status)).toEqual(["rejected", "rejected"]);
		const [data] = await source.fetch([{ offset: 0, length: 20 }]);
		expect(Array.from(new Uint8Array(data ?? new ArrayBuffer(0)))).toEqual(slice(bytes, 0, 20));
		expect(reads).toEqual([
			[0, 2 * BLOCK],
			[0, 2 * BLOCK],
		]);
	});
});
