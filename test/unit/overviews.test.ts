/**
 * Store's overview tree and result layout against the serial construction: each level the
 * 2 x 2 average of the whole level above, encoded whole, and the file assembled in one pass
 * (test/cog.ts, what the single store invocation streamed before the tree, which the previous
 * version of this test held equal to it). Blocks of one and two tiles make trees of two to three
 * levels with several blocks per level; windows cover a quarter, half and one and a half of a
 * level-1 tile, so averages cross blocks, and widths are odd at several levels.
 */
import { describe, expect, it } from "vitest";
import { type JobPlan, windowsOf } from "../../src/pipeline/plan";
import { buildOverviewBlock, overviewTree } from "../../src/pipeline/store/overviews";
import { cogLevels } from "../../src/raster/cog-writer";
import { objectKeys } from "../../src/storage/keys";
import { tileEncoder } from "../../src/wasm/index";
import { assembleCog } from "../cog";
import { assembleAsStore, memoryBucket, randomRaster, TEST_GEO } from "../store-windows";

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
			const tree = overviewTree(levels, blockTiles);
			expect(tree.at(-1)?.top).toBe(true);
			// Below the top, every level has several blocks: 3 x 3 and 2 x 2 of one tile, or 2 x 2 of two.
			expect(tree.slice(0, -1).map((level) => level.blocksAcross * level.blocksDown)).toEqual(
				blockTiles === 1 ? [9, 4] : [4],
			);
			const description = "NDVI";
			// Parts cut anywhere, here through the header and through tiles, join into the file.
			const file = await assembleAsStore(raster, {
				geo: TEST_GEO,
				description,
				rows,
				columns,
				blockTiles,
				partBytes: 300_001,
			});
			const serial = (await assembleCog({ width, height, geo: TEST_GEO, description }, raster.values)).file;
			expect(file.byteLength).toBe(serial.byteLength);
			// Compared without a matcher's diff of 10 MB: the first differing byte, if any.
			expect(file.findIndex((byte, i) => byte !== serial[i])).toBe(-1);
		},
	);

	it("refuses an average whose size does not match its window", async () => {
		const strips = windowsOf(1024, 1024, 1024, 1024);
		const plan = { width: 1024, height: 1024, geo: TEST_GEO, strips } as unknown as JobPlan;
		const small = cogLevels(1024, 1024);
		const { objects, bucket } = memoryBucket();
		objects.set(objectKeys.stripHalf("job", 0), new Uint8Array(512 * 511 * 4));
		const tree = overviewTree(small);
		await expect(
			buildOverviewBlock(bucket, { jobId: "job", plan, levels: small, tree }, 1, 0, tileEncoder),
		).rejects.toThrow(`has ${512 * 511 * 4} bytes, not ${512 * 512 * 4}`);
	});

	it("has no tree when the raster fits one tile", () => {
		expect(overviewTree(cogLevels(512, 300))).toEqual([]);
		expect(overviewTree(cogLevels(10980, 10980)).map((level) => level.blocksAcross * level.blocksDown)).toEqual([
			36, 9, 4, 1,
		]);
	});
});
