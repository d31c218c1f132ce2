/**
 * The overview levels of result.tif, built by store from the strips' 2 x 2 averages: level 1
 * is assembled from them band by band, and every level feeds the next as it goes, so only one
 * tile row per level is in memory at a time. Each finished tile row is encoded and stored as
 * one object until the file is assembled; its tiles' byte counts are returned for the IFDs.
 */
import { COG_TILE_SIZE, type CogLevel } from "../../raster/cog-writer";
import { encodeTiles, halve } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import type { TileEncoder } from "../../wasm/deflate";
import type { JobPlan, StripSpan } from "../plan";

/**
 * The tile encoder, imported on first use rather than with this module: store is part of the
 * app's module graph (routes name its artifact), which `npm run openapi` also loads under Node,
 * where a .wasm import is not a compiled module.
 */
async function loadTileEncoder(): Promise<TileEncoder> {
	const { encodeTile } = await import("../../wasm/index");
	return encodeTile;
}

/** Accumulates one level's rows into tile rows; flushing one encodes it and halves it onward. */
class LevelBuilder {
	readonly tileByteCounts: number[] = [];
	readonly #store: (tileRow: number, tiles: Uint8Array<ArrayBuffer>[]) => Promise<void>;
	readonly level: CogLevel;
	readonly #next: LevelBuilder | null;
	readonly #buffer: Float32Array;
	#rows = 0;
	#rowsDone = 0;
	#tileRow = 0;

	constructor(
		store: (tileRow: number, tiles: Uint8Array<ArrayBuffer>[]) => Promise<void>,
		level: CogLevel,
		next: LevelBuilder | null,
	) {
		this.#store = store;
		this.level = level;
		this.#next = next;
		this.#buffer = new Float32Array(COG_TILE_SIZE * level.width);
	}

	/** Appends whole rows of this level (row-major, the level's width wide), top to bottom. */
	async push(rows: Float32Array): Promise<void> {
		const width = this.level.width;
		for (let offset = 0; offset < rows.length; ) {
			const take = Math.min(rows.length - offset, (COG_TILE_SIZE - this.#rows) * width);
			this.#buffer.set(rows.subarray(offset, offset + take), this.#rows * width);
			this.#rows += take / width;
			offset += take;
			if (this.#rows === COG_TILE_SIZE || this.#rowsDone + this.#rows === this.level.height) await this.#flush();
		}
	}

	async #flush(): Promise<void> {
		const raster = {
			values: this.#buffer.subarray(0, this.#rows * this.level.width),
			width: this.level.width,
			height: this.#rows,
		};
		const tiles = encodeTiles(raster, await loadTileEncoder());
		await this.#store(this.#tileRow, tiles);
		this.tileByteCounts.push(...tiles.map((tile) => tile.byteLength));
		// Tile rows start on even rows, so the next level's 2 x 2 blocks never straddle two of them.
		if (this.#next) await this.#next.push(halve(raster).values);
		this.#rowsDone += this.#rows;
		this.#rows = 0;
		this.#tileRow++;
	}
}

/** The strips grouped by the rows they cover, top to bottom, each band left to right. */
function stripBands(strips: readonly StripSpan[]): StripSpan[][] {
	const bands = Map.groupBy(strips, (strip) => strip.rowStart);
	return [...bands.keys()]
		.sort((a, b) => a - b)
		.map((rowStart) => (bands.get(rowStart) ?? []).toSorted((a, b) => a.colStart - b.colStart));
}

/**
 * Builds and stores every overview level (levels[1..]) and returns each one's tile byte counts,
 * row-major. Windows start on multiples of 512, so a strip's average starts on whole level-1
 * pixels and the strips' averages tile level 1 exactly.
 */
export async function buildOverviews(
	bucket: R2Bucket,
	jobId: string,
	plan: JobPlan,
	levels: readonly CogLevel[],
): Promise<number[][]> {
	const first = levels[1];
	if (!first) return [];
	let next: LevelBuilder | null = null;
	const builders: LevelBuilder[] = [];
	for (let index = levels.length - 1; index >= 1; index--) {
		const level = levels[index] as CogLevel;
		next = new LevelBuilder(
			async (tileRow, tiles) => {
				await bucket.put(objectKeys.overviewTiles(jobId, index, tileRow), new Blob(tiles));
			},
			level,
			next,
		);
		builders.unshift(next);
	}
	const levelOne = builders[0] as LevelBuilder;
	// One buffer for every band: the first band is the tallest.
	const bandBuffer = new Float32Array(Math.ceil(plan.rows_per_strip / 2) * first.width);
	for (const band of stripBands(plan.strips)) {
		const [{ rowStart, rowEnd } = { rowStart: 0, rowEnd: 0 }] = band;
		const rows = Math.ceil(rowEnd / 2) - rowStart / 2;
		const rowsOfBand = bandBuffer.subarray(0, rows * first.width);
		for (const strip of band) {
			const object = await bucket.get(objectKeys.stripHalf(jobId, strip.index));
			if (!object) throw new Error(`job ${jobId}: the average of strip ${strip.index} is missing`);
			const half = new Float32Array(await object.arrayBuffer());
			const columns = Math.ceil(strip.colEnd / 2) - strip.colStart / 2;
			if (half.length !== rows * columns) {
				throw new Error(
					`job ${jobId}: the average of strip ${strip.index} has ${half.length} pixels, not ${rows * columns}`,
				);
			}
			for (let row = 0; row < rows; row++) {
				rowsOfBand.set(half.subarray(row * columns, (row + 1) * columns), row * first.width + strip.colStart / 2);
			}
		}
		await levelOne.push(rowsOfBand);
	}
	return builders.map((builder) => builder.tileByteCounts);
}
