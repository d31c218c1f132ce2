/**
 * The geotiff.js data source behind every raster EO Edge reads: whatever the storage (an R2
 * object, an HTTPS URL), a file is only ever read by byte ranges.
 *
 * The file is seen as fixed-size blocks. Blocks already read come from a small cache, which
 * lives as long as the source, i.e. one invocation. Blocks missing from every request made in
 * the same turn of the event loop (geotiff.js asks for all of a window's tiles at once) are
 * read together: consecutive blocks become one ranged read, so a strip of tiles stored one
 * after the other costs a single request.
 */
import { setImmediate } from "node:timers";
import { GeoTIFF, type GeoTIFFImage } from "geotiff";
import { RasterInputError } from "./input-errors";
import type { RasterLimits } from "./limits";
import { readsAsNumbers, readTiffStructure, type TiffReader, type TiffStructure } from "./tiff-structure";

/** Ranged reads of one file of known size; the storage behind a {@link RangedSource}. */
export interface RangeReader {
	/** Bytes in the file. */
	readonly size: number;
	/** Reads `length` bytes at `offset`; the range lies inside the file. */
	read(offset: number, length: number): Promise<ArrayBuffer>;
}

export interface RangedSourceOptions {
	/** Unit of reading and caching. */
	blockBytes?: number;
	/** Blocks the cache keeps, least recently used first out. */
	cacheBlocks?: number;
	/** Largest single read: longer runs of blocks are split. */
	maxReadBytes?: number;
}

interface Slice {
	offset: number;
	length: number;
}

interface PendingBlock {
	resolve(block: Uint8Array): void;
	reject(error: unknown): void;
}

type GeoTiffSource = Parameters<typeof GeoTIFF.fromSource>[0];

export class RangedSource {
	readonly #reader: RangeReader;
	readonly #blockBytes: number;
	readonly #cacheBlocks: number;
	readonly #maxReadBlocks: number;
	/** Insertion order is recency: a hit moves its block to the end. */
	readonly #cache = new Map<number, Uint8Array>();
	/**
	 * The reads' buffers that cached blocks are views of, with how many blocks view each: a view
	 * keeps its whole read alive, so they may hold at most twice the cache's capacity.
	 */
	readonly #viewedReads = new Map<ArrayBufferLike, number>();
	#viewedBytes = 0;
	readonly #inFlight = new Map<number, Promise<Uint8Array>>();
	#queued = new Map<number, PendingBlock>();
	/** What reading has thrown, so a caller can tell a failed read from what it made of the bytes. */
	readonly #failures = new Set<unknown>();

	constructor(
		reader: RangeReader,
		{ blockBytes = 64 * 1024, cacheBlocks = 32, maxReadBytes = 8 * 1024 * 1024 }: RangedSourceOptions = {},
	) {
		this.#reader = reader;
		this.#blockBytes = blockBytes;
		this.#cacheBlocks = cacheBlocks;
		this.#maxReadBlocks = Math.max(1, Math.floor(maxReadBytes / blockBytes));
	}

	get fileSize(): number {
		return this.#reader.size;
	}

	/** Whether `error` is one this source threw from a read. */
	threw(error: unknown): boolean {
		return this.#failures.has(error);
	}

	/** Each slice's bytes; a slice reaching past the end of the file is cut at the end. */
	async fetch(slices: readonly Slice[]): Promise<ArrayBuffer[]> {
		const read = await this.#failing(this.#bytes(slices));
		// A view shares its read with the cache and other slices: geotiff.js gets a copy.
		return read.map(({ bytes, shared }) => (shared ? bytes.slice() : bytes).buffer as ArrayBuffer);
	}

	/**
	 * A slice's bytes as {@link fetch} reads them, but a view of the read that holds them all
	 * when one does (a block stored whole in one read), not a copy. The view must not be written.
	 */
	async bytes(slice: Slice): Promise<Uint8Array> {
		const [read] = await this.#failing(this.#bytes([slice]));
		return read?.bytes ?? new Uint8Array(0);
	}

	async #failing<T>(result: Promise<T>): Promise<T> {
		try {
			return await result;
		} catch (error) {
			this.#failures.add(error);
			throw error;
		}
	}

	async #bytes(slices: readonly Slice[]): Promise<{ bytes: Uint8Array; shared: boolean }[]> {
		const wanted = slices.map((slice) => this.#span(slice));
		const blocks = new Map<number, Uint8Array | Promise<Uint8Array>>();
		for (const { offset, end } of wanted) {
			for (const id of this.#blockIds(offset, end)) {
				if (!blocks.has(id)) blocks.set(id, this.#block(id));
			}
		}
		const ids = [...blocks.keys()];
		const loaded = new Map(ids.map((id, i) => [id, i]));
		const data = await Promise.all(blocks.values());
		const blockOf = (id: number) => {
			const block = data[loaded.get(id) ?? -1];
			if (!block) throw new Error(`block ${id} was not read`);
			return block;
		};
		return wanted.map(({ offset, end }) => {
			if (end === offset) return { bytes: new Uint8Array(0), shared: false };
			// Consecutive views of one read (or one block): the slice is a view of that read.
			const first = Math.floor(offset / this.#blockBytes);
			const start = blockOf(first);
			const at = start.byteOffset + (offset - first * this.#blockBytes);
			let oneRead = at + (end - offset) <= start.buffer.byteLength;
			for (let id = first + 1; oneRead && id * this.#blockBytes < end; id++) {
				const block = blockOf(id);
				const previous = blockOf(id - 1);
				oneRead = block.buffer === start.buffer && block.byteOffset === previous.byteOffset + previous.length;
			}
			if (oneRead) return { bytes: new Uint8Array(start.buffer, at, end - offset), shared: true };
			const bytes = new Uint8Array(end - offset);
			for (let at = offset; at < end; ) {
				const id = Math.floor(at / this.#blockBytes);
				const block = blockOf(id);
				const blockWithin = at - id * this.#blockBytes;
				const take = Math.min(block.length - blockWithin, end - at);
				if (take <= 0) throw new Error(`block ${id} is shorter than the file says`);
				bytes.set(block.subarray(blockWithin, blockWithin + take), at - offset);
				at += take;
			}
			return { bytes, shared: false };
		});
	}

	/**
	 * Starts reading, now, every block of `slices` that is neither cached nor being read, merged
	 * as the requests of one turn are, together with any blocks other requests have queued in
	 * this turn so far. For a caller that knows everything it is about to ask for: a request alone
	 * waits for the next macrotask so that the turn's other requests join its read, and in workerd
	 * that is a timer's turn, about a millisecond of wall time each. The caller must ask for the
	 * slices ({@link bytes}, {@link fetch}) before it awaits anything: they then find the reads
	 * under way, whereas once a run is read the cache keeps only its last `cacheBlocks` blocks.
	 */
	prefetch(slices: readonly Slice[]): void {
		for (const slice of slices) {
			const { offset, end } = this.#span(slice);
			for (const id of this.#blockIds(offset, end)) {
				const block = this.#block(id, false);
				// A failed read reaches whoever asks for the block; one nobody asks for must not
				// leave an unhandled rejection behind.
				if (block instanceof Promise) block.catch(() => {});
			}
		}
		if (this.#queued.size > 0) this.#readQueued();
	}

	/** A slice as the bytes [offset, end) of the file it asks for: cut at the end of the file. */
	#span({ offset, length }: Slice): { offset: number; end: number } {
		return { offset, end: Math.max(offset, Math.min(offset + length, this.fileSize)) };
	}

	/** The blocks bytes [offset, end) lie in; none when the range is empty. */
	*#blockIds(offset: number, end: number): Generator<number> {
		if (end <= offset) return;
		for (let id = Math.floor(offset / this.#blockBytes); id * this.#blockBytes < end; id++) yield id;
	}

	async fetchSlice(slice: Slice): Promise<Slice & { data: ArrayBuffer }> {
		const [data = new ArrayBuffer(0)] = await this.fetch([slice]);
		return { ...slice, data };
	}

	async close(): Promise<void> {}

	/**
	 * A block, cached or being read, or else queued: read on the next macrotask, unless
	 * `deferred` is false and the caller reads the queue itself.
	 */
	#block(id: number, deferred = true): Uint8Array | Promise<Uint8Array> {
		const cached = this.#cache.get(id);
		if (cached) {
			this.#cache.delete(id);
			this.#cache.set(id, cached);
			return cached;
		}
		const inFlight = this.#inFlight.get(id);
		if (inFlight) return inFlight;
		const promise = new Promise<Uint8Array>((resolve, reject) => {
			// Once every request of this turn is queued: the next macrotask (under Node without a
			// timer's minimum delay; in workerd a timer's turn, which prefetch spares its callers).
			if (this.#queued.size === 0 && deferred) setImmediate(() => this.#readQueued());
			this.#queued.set(id, { resolve, reject });
		});
		this.#inFlight.set(id, promise);
		return promise;
	}

	/** Reads every queued block, consecutive ones in one request each. */
	#readQueued(): void {
		const queued = this.#queued;
		this.#queued = new Map();
		const ids = [...queued.keys()].sort((a, b) => a - b);
		let first = 0;
		for (let i = 1; i <= ids.length; i++) {
			const runStart = ids[first] as number;
			const contiguous = i < ids.length && ids[i] === (ids[i - 1] as number) + 1 && i - first < this.#maxReadBlocks;
			if (contiguous) continue;
			void this.#readRun(runStart, i - first, queued);
			first = i;
		}
	}

	async #readRun(firstId: number, count: number, queued: Map<number, PendingBlock>): Promise<void> {
		const offset = firstId * this.#blockBytes;
		const length = Math.min(count * this.#blockBytes, this.fileSize - offset);
		try {
			const data = new Uint8Array(await this.#reader.read(offset, length));
			if (data.length !== length) throw new Error(`read ${data.length} bytes at ${offset} instead of ${length}`);
			// The cache keeps the last `cacheBlocks` blocks of a run; the others would be evicted by
			// the run's own later blocks. Every block goes to its requests as a view, not a copy.
			const firstKept = count - this.#cacheBlocks;
			for (let i = 0; i < count; i++) {
				const start = i * this.#blockBytes;
				const block = data.subarray(start, start + this.#blockBytes);
				if (i >= firstKept) this.#remember(firstId + i, block);
				queued.get(firstId + i)?.resolve(block);
			}
		} catch (error) {
			for (let i = 0; i < count; i++) queued.get(firstId + i)?.reject(error);
		} finally {
			for (let i = 0; i < count; i++) this.#inFlight.delete(firstId + i);
		}
	}

	/**
	 * Caches a block read as part of a run: as the view it is when the whole read fits the
	 * cache (then the read holds no more than the blocks it keeps) and the reads that cached
	 * views keep alive stay within twice the cache's capacity; otherwise as a copy, so the cache
	 * does not keep the whole read alive.
	 */
	#remember(id: number, block: Uint8Array): void {
		const read = block.buffer;
		const capacity = this.#cacheBlocks * this.#blockBytes;
		const viewers = this.#viewedReads.get(read) ?? 0;
		const asView = read.byteLength <= capacity && (viewers > 0 || this.#viewedBytes + read.byteLength <= 2 * capacity);
		const kept = asView ? block : block.slice();
		if (asView) {
			if (viewers === 0) this.#viewedBytes += read.byteLength;
			this.#viewedReads.set(read, viewers + 1);
		}
		this.#forget(id);
		this.#cache.set(id, kept);
		if (this.#cache.size > this.#cacheBlocks) {
			const oldest = this.#cache.keys().next();
			if (!oldest.done) this.#forget(oldest.value);
		}
	}

	/** Drops a block from the cache, and the read it views once no cached block views it. */
	#forget(id: number): void {
		const block = this.#cache.get(id);
		if (!block) return;
		this.#cache.delete(id);
		const viewers = this.#viewedReads.get(block.buffer);
		if (viewers === undefined) return;
		if (viewers > 1) {
			this.#viewedReads.set(block.buffer, viewers - 1);
		} else {
			this.#viewedReads.delete(block.buffer);
			this.#viewedBytes -= block.buffer.byteLength;
		}
	}
}

/** The parts of geotiff.js's DeferredArray (not exported) that {@link actualizeDeferredArrays} reads. */
interface DeferredArray {
	arrayOffset: number;
	fieldType: number;
	length: number;
}

interface DirectoryInternals {
	actualizedFields: Map<number | string, unknown>;
	deferredArrays: Map<number | string, DeferredArray>;
}

/**
 * geotiff.js 3.0.5 decodes arrays that lie outside its first header read (tile and strip
 * offsets of larger files) as little-endian whatever the file's byte order. Every such array
 * was bounded by the structure check, so it is read here, in the file's order, before
 * geotiff.js uses it.
 */
async function actualizeDeferredArrays(image: GeoTIFFImage, reader: TiffReader): Promise<void> {
	const directory = image.getFileDirectory() as unknown as DirectoryInternals;
	for (const [tag, deferred] of [...directory.deferredArrays]) {
		if (!readsAsNumbers(deferred.fieldType)) continue;
		const values = await reader.values(deferred.fieldType, deferred.length, deferred.arrayOffset, `tag ${tag}`);
		directory.actualizedFields.set(tag, values);
		directory.deferredArrays.delete(tag);
	}
}

/**
 * Opens one image of a GeoTIFF (the first unless told; later ones are e.g. a COG's overviews)
 * through ranged reads, reading no more than the headers up to it, once the file's structure
 * has passed the checks and limits of src/raster/tiff-structure.ts (`structure` describes the
 * first image).
 */
export async function openRangedImage(
	source: RangedSource,
	limits: RasterLimits,
	imageIndex = 0,
): Promise<RangedImage> {
	const { reader, structure } = await readTiffStructure(source, limits);
	let image: GeoTIFFImage;
	let first: GeoTIFFImage;
	try {
		const tiff = await GeoTIFF.fromSource(source as unknown as GeoTiffSource);
		image = await tiff.getImage(imageIndex);
		// Parsed on the way to `image` already: geotiff.js reads the IFDs in turn and keeps them.
		first = await tiff.getImage(0);
	} catch (error) {
		// geotiff.js parses the bytes the structure check let through, and refuses some it does not
		// look at (a 64-bit value past 2^53, say): the file's fault, unless reading it failed.
		if (source.threw(error)) throw error;
		throw new RasterInputError(
			"invalid-raster",
			`the header does not parse (${error instanceof Error ? error.message : String(error)})`,
		);
	}
	await actualizeDeferredArrays(image, reader);
	return { image, first, structure };
}

export interface RangedImage {
	image: GeoTIFFImage;
	/** The file's first image, whose tags hold what GDAL reads as the dataset's (band metadata). */
	first: GeoTIFFImage;
	structure: TiffStructure;
}
