/**
 * The overview levels of result.tif, built by store from the strips' 2 x 2 averages: level 1
 * is assembled from them band by band, and every level feeds the next as it goes, so only one
 * tile row per level is in memory at a time (see overviewWorkingSetBytes). Each finished tile
 * row is encoded and stored as one object until the file is assembled; its tiles' byte counts
 * are returned for the IFDs.
 */
import { COG_TILE_SIZE, type CogLevel, cogLevels } from "../../raster/cog-writer";
import { encodeTiles, type FloatRaster, halve } from "../../raster/tiles";
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

/**
 * Copies `rows` rows of `columns` float32 values, streamed row-major, into `destination`,
 * whose rows are `width` values long, starting at index `at`. Chunks are copied as they
 * arrive, so the rows are never held twice.
 */
async function readRowsInto(
	stream: ReadableStream<Uint8Array>,
	destination: Float32Array,
	{ at, width, columns, rows }: { at: number; width: number; columns: number; rows: number },
): Promise<void> {
	const bytes = new Uint8Array(destination.buffer, destination.byteOffset, destination.byteLength);
	const rowBytes = columns * 4;
	const expected = rows * rowBytes;
	let received = 0;
	for await (const chunk of stream) {
		if (received + chunk.byteLength > expected) throw new Error(`more than the ${expected} bytes asked for`);
		for (let offset = 0; offset < chunk.byteLength; ) {
			const row = Math.floor(received / rowBytes);
			const within = received - row * rowBytes;
			const take = Math.min(rowBytes - within, chunk.byteLength - offset);
			bytes.set(chunk.subarray(offset, offset + take), (at + row * width) * 4 + within);
			offset += take;
			received += take;
		}
	}
	if (received !== expected) throw new Error(`${received} bytes instead of ${expected}`);
}

/**
 * One overview level, built a tile row at a time: rows are written into its tile row until it
 * is full (512 rows, or what is left of the level), which is then encoded, stored and halved
 * straight into the next level's tile row.
 */
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
		this.#buffer = new Float32Array(tileRowBufferRows(level) * level.width);
	}

	/** Rows the current tile row still takes. */
	get rowsFree(): number {
		return Math.min(COG_TILE_SIZE, this.level.height - this.#rowsDone) - this.#rows;
	}

	/** Streams the next `rows` rows of columns [column, column + columns) into the tile row. */
	readRows(stream: ReadableStream<Uint8Array>, column: number, columns: number, rows: number): Promise<void> {
		if (rows > this.rowsFree || column + columns > this.level.width) {
			throw new RangeError(`${rows} rows of columns ${column}-${column + columns} do not fit the tile row`);
		}
		const width = this.level.width;
		return readRowsInto(stream, this.#buffer, { at: this.#rows * width + column, width, columns, rows });
	}

	/** Counts `rows` more rows as written (across the whole width), flushing a full tile row. */
	async advance(rows: number): Promise<void> {
		if (rows > this.rowsFree) throw new RangeError(`${rows} rows overflow the tile row`);
		this.#rows += rows;
		if (this.rowsFree === 0) await this.#flush();
	}

	async #flush(): Promise<void> {
		const raster = {
			values: this.#buffer.subarray(0, this.#rows * this.level.width),
			width: this.level.width,
			height: this.#rows,
		};
		await this.#storeTiles(raster);
		// Tile rows start on even rows, so the next level's 2 x 2 blocks never straddle two of them.
		if (this.#next) await this.#next.#receiveHalfOf(raster);
		this.#rowsDone += this.#rows;
		this.#rows = 0;
		this.#tileRow++;
	}

	/** Encodes and stores the tile row; its tiles are dropped before the next level is built. */
	async #storeTiles(raster: FloatRaster): Promise<void> {
		const tiles = encodeTiles(raster, await loadTileEncoder());
		await this.#store(this.#tileRow, tiles);
		this.tileByteCounts.push(...tiles.map((tile) => tile.byteLength));
	}

	async #receiveHalfOf(raster: FloatRaster): Promise<void> {
		const rows = Math.ceil(raster.height / 2);
		const width = this.level.width;
		halve(raster, this.#buffer.subarray(this.#rows * width, (this.#rows + rows) * width));
		await this.advance(rows);
	}
}

/** Rows of a level's tile row buffer: a tile's height, or the whole level when it is shorter. */
function tileRowBufferRows(level: CogLevel): number {
	return Math.min(COG_TILE_SIZE, level.height);
}

/**
 * Bytes store holds at once while it builds the overviews of a `width` x `height` result: one
 * float32 tile row per level, and the encoded tiles of the widest one (as large as the tiles at
 * worst) twice, as the Blob that stores them copies them.
 */
export function overviewWorkingSetBytes(width: number, height: number): number {
	const overviews = cogLevels(width, height).slice(1);
	const rowBuffers = overviews.reduce((sum, level) => sum + tileRowBufferRows(level) * level.width * 4, 0);
	const widestTileRow = Math.max(0, ...overviews.map((level) => level.tilesAcross)) * COG_TILE_SIZE * COG_TILE_SIZE * 4;
	return rowBuffers + 2 * widestTileRow;
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
 * pixels and the strips' averages tile level 1 exactly. Each strip's average is read in ranges
 * of rows straight into level 1's tile row, so no band of strips is ever held whole.
 */
export async function buildOverviews(
	bucket: R2Bucket,
	jobId: string,
	plan: JobPlan,
	levels: readonly CogLevel[],
): Promise<number[][]> {
	if (!levels[1]) return [];
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
	for (const band of stripBands(plan.strips)) {
		const [{ rowStart, rowEnd } = { rowStart: 0, rowEnd: 0 }] = band;
		const bandRows = Math.ceil(rowEnd / 2) - rowStart / 2;
		for (let done = 0; done < bandRows; ) {
			const rows = Math.min(bandRows - done, levelOne.rowsFree);
			for (const strip of band) {
				const columns = Math.ceil(strip.colEnd / 2) - strip.colStart / 2;
				const rowBytes = columns * 4;
				const object = await bucket.get(objectKeys.stripHalf(jobId, strip.index), {
					range: { offset: done * rowBytes, length: rows * rowBytes },
				});
				if (!object) throw new Error(`job ${jobId}: the average of strip ${strip.index} is missing`);
				if (object.size !== bandRows * rowBytes) {
					await object.body.cancel();
					throw new Error(
						`job ${jobId}: the average of strip ${strip.index} has ${object.size} bytes, not ${bandRows * rowBytes}`,
					);
				}
				await levelOne.readRows(object.body, strip.colStart / 2, columns, rows).catch((error: unknown) => {
					const reason = error instanceof Error ? error.message : String(error);
					throw new Error(`job ${jobId}: reading the average of strip ${strip.index}: ${reason}`, { cause: error });
				});
			}
			await levelOne.advance(rows);
			done += rows;
		}
	}
	return builders.map((builder) => builder.tileByteCounts);
}
