/**
 * Store's overview tree and result layout against the serial construction: each level the
 * 2 x 2 average of the whole level above, encoded whole, and the file assembled in one pass
 * (test/cog.ts, what the single store invocation streamed before the tree, which the previous
 * version of this test held equal to it). Blocks of one and two tiles make trees of two to three
 * levels with several blocks per level; windows cover a quarter, half and one and a half of a
 * level-1 tile, so averages cross blocks, and widths are odd at several levels.
 */
import { describe, expect, it } from "vitest";
import type { JobPlan } from "../../src/pipeline/plan";
import { blockId, partReads, resultLayout } from "../../src/pipeline/store/layout";
import { buildOverviewBlock, overviewTree } from "../../src/pipeline/store/overviews";
import { cogLevels } from "../../src/raster/cog-writer";
import { objectKeys } from "../../src/storage/keys";
import { encodeTile } from "../../src/wasm/index";
import { assembleCog } from "../cog";
import { planWindows, randomRaster, TEST_GEO, windowOutput } from "../store-windows";

/** An R2 bucket in memory whose bodies arrive in small chunks that cut across rows. */
function memoryBucket() {
	const objects = new Map<string, Uint8Array>();
	const bucket = {
		async put(key: string, value: Blob | Uint8Array | Float32Array) {
			const bytes =
				value instanceof Blob
					? new Uint8Array(await value.arrayBuffer())
					: new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
			objects.set(key, bytes);
		},
		async get(key: string, options?: { range?: { offset: number; length: number } }) {
			const bytes = objects.get(key);
			if (!bytes) return null;
			const { offset = 0, length = bytes.length - offset } = options?.range ?? {};
			const range = bytes.subarray(offset, offset + length);
			let at = 0;
			const body = new ReadableStream<Uint8Array>({
				pull(controller) {
					controller.enqueue(range.slice(at, at + 1000));
					at += 1000;
					if (at >= range.length) controller.close();
				},
			});
			return { size: bytes.length, body };
		},
	};
	return { objects, bucket: bucket as unknown as R2Bucket };
}

const width = 2600;
const height = 2250;
const raster = randomRaster(width, height, 7);
const levels = cogLevels(width, height);

describe("the overview tree and result.tif's layout", () => {
	it.each([
		[512, 1024, 1],
		[1024, 1536, 1],
		[1536, 512, 2],
		[512, 1024, 2],
	])(
		"give the serial construction's file, bit for bit, for windows of %i x %i and blocks of %i tiles",
		async (rows, columns, blockTiles) => {
			const strips = planWindows(width, height, rows, columns);
			const plan = { width, height, geo: TEST_GEO, strips } as unknown as JobPlan;
			const { objects, bucket } = memoryBucket();
			const windowTileBytes = new Map<number, number[]>();
			for (const strip of strips) {
				const output = windowOutput(raster, strip);
				await bucket.put(objectKeys.stripTiles("job", strip.index), output.tiles);
				await bucket.put(objectKeys.stripHalf("job", strip.index), output.half);
				windowTileBytes.set(strip.index, output.tileBytes);
			}

			const tree = overviewTree(levels, blockTiles);
			expect(tree.at(-1)?.top).toBe(true);
			if (blockTiles === 1) expect(tree.length).toBe(3);
			const blockTileBytes = new Map<string, number[][]>();
			for (const treeLevel of tree) {
				expect(treeLevel.top || treeLevel.blocksAcross * treeLevel.blocksDown > 1).toBe(true);
				for (let block = 0; block < treeLevel.blocksAcross * treeLevel.blocksDown; block++) {
					const counts = await buildOverviewBlock(
						bucket,
						{ jobId: "job", plan, levels, tree },
						treeLevel.level,
						block,
						encodeTile,
						blockTiles,
					);
					blockTileBytes.set(blockId(treeLevel.level, block), counts);
				}
			}
			const description = "NDVI";
			const { header, layout } = resultLayout({
				jobId: "job",
				plan,
				geo: TEST_GEO,
				description,
				levels,
				tree,
				windowTileBytes,
				blockTileBytes,
				blockTiles,
			});
			await bucket.put(objectKeys.resultHeader("job"), header);

			const serial = (await assembleCog({ width, height, geo: TEST_GEO, description }, raster.values)).file;
			expect(layout.totalBytes).toBe(serial.byteLength);
			// Parts cut anywhere, here through the header and through tiles, join into the file.
			const partBytes = 300_001;
			const file = new Uint8Array(layout.totalBytes);
			for (let part = 1; (part - 1) * partBytes < layout.totalBytes; part++) {
				for (const read of partReads(layout, partBytes, part)) {
					const source = objects.get(read.key);
					if (!source) throw new Error(`${read.key} was not stored`);
					file.set(source.subarray(read.offset, read.offset + read.length), (part - 1) * partBytes + read.at);
				}
			}
			// Compared without a matcher's diff of 10 MB: the first differing byte, if any.
			const firstDifference = file.findIndex((byte, i) => byte !== serial[i]);
			expect(firstDifference).toBe(-1);
		},
	);

	it("refuses an average whose size does not match its window", async () => {
		const strips = planWindows(1024, 1024, 1024, 1024);
		const plan = { width: 1024, height: 1024, geo: TEST_GEO, strips } as unknown as JobPlan;
		const small = cogLevels(1024, 1024);
		const { objects, bucket } = memoryBucket();
		objects.set(objectKeys.stripHalf("job", 0), new Uint8Array(512 * 511 * 4));
		const tree = overviewTree(small);
		await expect(
			buildOverviewBlock(bucket, { jobId: "job", plan, levels: small, tree }, 1, 0, encodeTile),
		).rejects.toThrow(`has ${512 * 511 * 4} bytes, not ${512 * 512 * 4}`);
	});

	it("has no tree when the raster fits one tile", () => {
		expect(overviewTree(cogLevels(512, 300))).toEqual([]);
		expect(overviewTree(cogLevels(10980, 10980)).map((level) => level.blocksAcross * level.blocksDown)).toEqual([
			36, 9, 4, 1,
		]);
	});
});
