/** The ranged source: reads merged across concurrent requests, blocks cached, errors not. */
import { env } from "cloudflare:workers";
import { setImmediate } from "node:timers";
import { describe, expect, it } from "vitest";
import { installDecoders } from "../../src/raster/decoders";
import { rasterLimits } from "../../src/raster/limits";
import { openRangedImage, RangedSource, type RangeReader } from "../../src/raster/ranged-source";
import { readWindow } from "../../src/raster/read";
import { workerCodecs } from "../../src/wasm/codecs";
import tiledNir from "../fixtures/layouts/overviews_nir.tif";

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
	it("serves a block's bytes as a view of the read that holds them, and as a copy across reads", async () => {
		const { bytes, reader } = recordingReader(12 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK, maxReadBytes: 3 * BLOCK });
		const [inOneRead, acrossReads] = await Promise.all([
			source.bytes({ offset: 5, length: 2 * BLOCK }),
			source.bytes({ offset: 2 * BLOCK + 3, length: 2 * BLOCK }),
		]);
		expect(Array.from(inOneRead)).toEqual(slice(bytes, 5, 2 * BLOCK));
		expect(inOneRead.byteLength).toBeLessThan(inOneRead.buffer.byteLength);
		expect(Array.from(acrossReads)).toEqual(slice(bytes, 2 * BLOCK + 3, 2 * BLOCK));
		expect(acrossReads.byteLength).toBe(acrossReads.buffer.byteLength);
		// What geotiff.js gets is always a buffer of its own, never one the cache shares.
		const [fetched] = await source.fetch([{ offset: 5, length: 2 * BLOCK }]);
		expect(fetched).not.toBe(inOneRead.buffer);
		expect(Array.from(new Uint8Array(fetched ?? new ArrayBuffer(0)))).toEqual(slice(bytes, 5, 2 * BLOCK));
	});

	it("starts a prefetch's reads at once, one per run, and serves the requests that follow from them", async () => {
		const { bytes, reads, reader } = recordingReader(20 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		const slices = [
			{ offset: 5, length: 20 },
			{ offset: 25, length: 30 },
			{ offset: 196, length: 10 },
			{ offset: 300, length: 0 },
		];
		source.prefetch(slices);
		// Before anything is awaited: the reads are under way (an empty slice needs none).
		expect(reads.sort((a, b) => a[0] - b[0])).toEqual([
			[0, 4 * BLOCK],
			[12 * BLOCK, BLOCK],
		]);
		const served = await Promise.all(slices.map((wanted) => source.bytes(wanted)));
		served.forEach((data, i) => {
			const { offset, length } = slices[i] ?? { offset: 0, length: 0 };
			expect(Array.from(data)).toEqual(slice(bytes, offset, length));
		});
		expect(reads).toHaveLength(2);
		// Prefetching what is cached or under way reads nothing more.
		source.prefetch(slices);
		expect(reads).toHaveLength(2);
	});

	it("lets a failed prefetch reach only those who ask, and reads the block again for them", async () => {
		const { bytes, reads, reader } = recordingReader(4 * BLOCK, 1);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		source.prefetch([{ offset: 0, length: 10 }]);
		// Nobody asked for the failed block: no unhandled rejection is left (vitest fails on one).
		await new Promise((resolve) => setImmediate(resolve));
		expect(Array.from(await source.bytes({ offset: 0, length: 10 }))).toEqual(slice(bytes, 0, 10));
		expect(reads).toEqual([
			[0, BLOCK],
			[0, BLOCK],
		]);
	});

	it("passes a failed prefetch to whoever asked while it was under way, as a read failure of this source", async () => {
		const { reads, reader } = recordingReader(4 * BLOCK, 1);
		const source = new RangedSource(reader, { blockBytes: BLOCK });
		source.prefetch([{ offset: 0, length: 10 }]);
		const failure = await source.bytes({ offset: 0, length: 10 }).catch((error: unknown) => error);
		expect(failure).toBeInstanceOf(Error);
		expect(source.threw(failure)).toBe(true);
		expect(reads).toEqual([[0, BLOCK]]);
	});

	it("reads a file's structures and a window's blocks without waiting for the next macrotask", async () => {
		// In workerd, waiting for the next macrotask is a timer's turn: about a millisecond each.
		await installDecoders(workerCodecs);
		const file = tiledNir as ArrayBuffer;
		let macrotasks = 0;
		let reading = true;
		const tick = () => {
			macrotasks++;
			if (reading) setImmediate(tick);
		};
		setImmediate(tick);
		const readAfter: number[] = [];
		const source = new RangedSource({
			size: file.byteLength,
			async read(offset, length) {
				readAfter.push(macrotasks);
				return file.slice(offset, offset + length);
			},
		});
		let tileWidth: number;
		let width: number;
		try {
			const { image } = await openRangedImage(source, rasterLimits(env));
			const window = { rowStart: 0, rowEnd: image.getHeight(), colStart: 0, colEnd: image.getWidth() };
			(await readWindow(image, [1], window)).release();
			tileWidth = image.getTileWidth();
			width = image.getWidth();
		} finally {
			reading = false;
		}
		expect(tileWidth).toBeLessThan(width);
		expect(readAfter.length).toBeGreaterThan(1);
		expect(readAfter.every((turns) => turns === 0)).toBe(true);
	});

	it("caches views of its reads while those reads hold at most twice its capacity, copies beyond", async () => {
		const { bytes, reads, reader } = recordingReader(12 * BLOCK);
		const source = new RangedSource(reader, { blockBytes: BLOCK, cacheBlocks: 4, maxReadBytes: 3 * BLOCK });
		const run = (first: number) => source.bytes({ offset: first * BLOCK, length: 3 * BLOCK });
		const cachedBlock = (id: number) => source.bytes({ offset: id * BLOCK, length: 1 });
		await run(0);
		await run(3);
		// A view of the first read, which this hit keeps cached beside the second read's blocks.
		expect((await cachedBlock(2)).buffer.byteLength).toBe(3 * BLOCK);
		// The two reads hold 96 bytes of the bound's 128: the third read's blocks are cached as copies.
		await run(6);
		const block = await cachedBlock(6);
		expect(block.buffer.byteLength).toBe(BLOCK);
		expect(Array.from(block)).toEqual(slice(bytes, 6 * BLOCK, 1));
		expect(reads).toEqual([
			[0, 3 * BLOCK],
			[3 * BLOCK, 3 * BLOCK],
			[6 * BLOCK, 3 * BLOCK],
		]);
	});
});
