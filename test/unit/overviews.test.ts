/**
 * Store's overview builder against the plain construction (each level the 2 x 2 average of
 * the whole level above, cut into tile rows and encoded), over plans whose bands of windows
 * cover a quarter, half and one and a half level-1 tile rows, so rows cross tile rows, levels
 * have several tile rows and partial last ones, and widths are odd.
 */
import { describe, expect, it } from "vitest";
import type { JobPlan, StripSpan } from "../../src/pipeline/plan";
import { buildOverviews } from "../../src/pipeline/store/overviews";
import { COG_TILE_SIZE, cogLevels } from "../../src/raster/cog-writer";
import { encodeTiles, type FloatRaster, halve } from "../../src/raster/tiles";
import { objectKeys } from "../../src/storage/keys";
import { encodeTile } from "../../src/wasm/index";
import { seededRandom } from "../random";

/** An R2 bucket in memory whose bodies arrive in small chunks that cut across rows. */
function memoryBucket() {
	const objects = new Map<string, Uint8Array>();
	const bucket = {
		async put(key: string, value: Blob | Uint8Array) {
			objects.set(key, value instanceof Blob ? new Uint8Array(await value.arrayBuffer()) : value.slice());
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

function windowOf(raster: FloatRaster, { rowStart, rowEnd, colStart, colEnd }: StripSpan): FloatRaster {
	const width = colEnd - colStart;
	const values = new Float32Array(width * (rowEnd - rowStart));
	for (let row = rowStart; row < rowEnd; row++) {
		const from = row * raster.width + colStart;
		values.set(raster.values.subarray(from, from + width), (row - rowStart) * width);
	}
	return { values, width, height: rowEnd - rowStart };
}

describe("buildOverviews", () => {
	const width = 2600;
	const height = 2250;
	const random = seededRandom(7);
	const values = Float32Array.from({ length: width * height }, () => (random() < 0.1 ? Number.NaN : random() * 2 - 1));
	const full: FloatRaster = { values, width, height };
	const levels = cogLevels(width, height);

	it.each([
		[512, 1024],
		[1024, 1536],
		[1536, 512],
	])("matches the whole-level construction for windows of %i rows x %i columns", async (rows, columns) => {
		const strips: StripSpan[] = [];
		for (let rowStart = 0; rowStart < height; rowStart += rows) {
			for (let colStart = 0; colStart < width; colStart += columns) {
				const strip = {
					index: strips.length,
					rowStart,
					rowEnd: Math.min(height, rowStart + rows),
					colStart,
					colEnd: Math.min(width, colStart + columns),
				};
				strips.push(strip);
			}
		}
		const plan = { width, height, rows_per_strip: rows, cols_per_strip: columns, strips } as unknown as JobPlan;
		const { objects, bucket } = memoryBucket();
		for (const strip of strips) {
			const half = halve(windowOf(full, strip)).values;
			objects.set(objectKeys.stripHalf("job", strip.index), new Uint8Array(half.buffer));
		}

		const byteCounts = await buildOverviews(bucket, "job", plan, levels);

		expect(levels.length).toBe(4);
		let level = full;
		for (let index = 1; index < levels.length; index++) {
			level = halve(level);
			const expectedCounts: number[] = [];
			for (let tileRow = 0; tileRow * COG_TILE_SIZE < level.height; tileRow++) {
				const top = tileRow * COG_TILE_SIZE;
				const tileRowRaster = windowOf(level, {
					index: 0,
					rowStart: top,
					rowEnd: Math.min(level.height, top + COG_TILE_SIZE),
					colStart: 0,
					colEnd: level.width,
				});
				const tiles = encodeTiles(tileRowRaster, encodeTile);
				expectedCounts.push(...tiles.map((tile) => tile.byteLength));
				const stored = objects.get(objectKeys.overviewTiles("job", index, tileRow));
				expect(stored, `level ${index}, tile row ${tileRow}`).toEqual(
					new Uint8Array(await new Blob(tiles).arrayBuffer()),
				);
			}
			expect(byteCounts[index - 1]).toEqual(expectedCounts);
		}
	});

	it("refuses an average whose size does not match its window", async () => {
		const strips = [{ index: 0, rowStart: 0, rowEnd: 1024, colStart: 0, colEnd: 1024 }];
		const plan = {
			width: 1024,
			height: 1024,
			rows_per_strip: 1024,
			cols_per_strip: 1024,
			strips,
		} as unknown as JobPlan;
		const { objects, bucket } = memoryBucket();
		objects.set(objectKeys.stripHalf("job", 0), new Uint8Array(512 * 511 * 4));
		await expect(buildOverviews(bucket, "job", plan, cogLevels(1024, 1024))).rejects.toThrow(
			`has ${512 * 511 * 4} bytes, not ${512 * 512 * 4}`,
		);
	});
});
