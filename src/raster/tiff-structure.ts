/**
 * A TIFF's structure, checked before geotiff.js parses it. geotiff.js trusts its input: it
 * allocates whatever array a tag's count declares (billions of entries if asked), reads blocks
 * past the end of the file, and bounds no dimension. This module reads the header and the first
 * IFD itself, through the same ranged source (its blocks stay cached for geotiff.js), and
 * refuses a malformed file, or one beyond the configured limits, with a
 * {@link RasterInputError} saying what it found. Only the first IFD is read and the IFD chain
 * is never followed, so IFDs that point at each other cannot make a reader loop.
 */
import { RasterInputError } from "./input-errors";
import type { RasterLimits } from "./limits";
import type { RangedSource } from "./ranged-source";

/** A TIFF starts with II*\0 or MM\0* (classic) or II+\0 or MM\0+ (BigTIFF). */
const TIFF_SIGNATURES = [
	[0x49, 0x49, 0x2a, 0x00],
	[0x4d, 0x4d, 0x00, 0x2a],
	[0x49, 0x49, 0x2b, 0x00],
	[0x4d, 0x4d, 0x00, 0x2b],
];
export const TIFF_SIGNATURE_BYTES = 4;

export function hasTiffSignature(bytes: Uint8Array): boolean {
	return TIFF_SIGNATURES.some((signature) => signature.every((byte, position) => bytes[position] === byte));
}

const TAG = {
	imageWidth: 256,
	imageLength: 257,
	bitsPerSample: 258,
	stripOffsets: 273,
	samplesPerPixel: 277,
	rowsPerStrip: 278,
	stripByteCounts: 279,
	planarConfiguration: 284,
	tileWidth: 322,
	tileLength: 323,
	tileOffsets: 324,
	tileByteCounts: 325,
} as const;

type ValueReader = (view: DataView, at: number, littleEndian: boolean) => number;

/** Bytes per value and a reader for each TIFF field type; rationals read their numerator. */
const FIELD_TYPES: Record<number, { bytes: number; read: ValueReader }> = {
	1: { bytes: 1, read: (view, at) => view.getUint8(at) },
	2: { bytes: 1, read: (view, at) => view.getUint8(at) },
	3: { bytes: 2, read: (view, at, le) => view.getUint16(at, le) },
	4: { bytes: 4, read: (view, at, le) => view.getUint32(at, le) },
	5: { bytes: 8, read: (view, at, le) => view.getUint32(at, le) },
	6: { bytes: 1, read: (view, at) => view.getInt8(at) },
	7: { bytes: 1, read: (view, at) => view.getUint8(at) },
	8: { bytes: 2, read: (view, at, le) => view.getInt16(at, le) },
	9: { bytes: 4, read: (view, at, le) => view.getInt32(at, le) },
	10: { bytes: 8, read: (view, at, le) => view.getInt32(at, le) },
	11: { bytes: 4, read: (view, at, le) => view.getFloat32(at, le) },
	12: { bytes: 8, read: (view, at, le) => view.getFloat64(at, le) },
	13: { bytes: 4, read: (view, at, le) => view.getUint32(at, le) },
	16: { bytes: 8, read: (view, at, le) => Number(view.getBigUint64(at, le)) },
	17: { bytes: 8, read: (view, at, le) => Number(view.getBigInt64(at, le)) },
	18: { bytes: 8, read: (view, at, le) => Number(view.getBigUint64(at, le)) },
};
/** Field types whose values are whole numbers, as sizes, counts and offsets must be. */
const INTEGER_TYPES = new Set([1, 3, 4, 16]);
const RATIONAL_TYPES = new Set([5, 10]);

/** GDAL writes a couple of dozen tags; a directory of thousands is not a raster's. */
const MAX_IFD_ENTRIES = 1024;
/** Bytes read for any one tag other than the block offsets and byte counts (bounded by RASTER_MAX_BLOCKS). */
const MAX_TAG_BYTES = 1024 * 1024;
/** A stored block larger than twice its decoded size plus this cannot be a compression of it. */
const STORED_BLOCK_SLACK_BYTES = 1024;

/** The most bytes any compression of a block of `decodedBytes` takes, or any inner layer of one. */
export function maxStoredBlockBytes(decodedBytes: number): number {
	return 2 * decodedBytes + STORED_BLOCK_SLACK_BYTES;
}

interface Entry {
	tag: number;
	type: number;
	count: number;
	/** Where the values are: inside the entry, or the offset the entry points at. */
	at: number;
}

/** What the check learnt that readers use beyond geotiff.js's own view of the file. */
export interface TiffStructure {
	/** The block grid, and the bytes each block takes (by block index, plane after plane). */
	blocks: {
		width: number;
		height: number;
		across: number;
		down: number;
		/** Whether each band is a plane of blocks of its own (PlanarConfiguration 2). */
		planar: boolean;
		byteCounts: readonly number[];
	};
}

/**
 * Bytes of the blocks a read of `windows` of `bands` (1-based) fetches, each block once: what
 * reading only part of the file costs.
 */
export function storedBytesUnder(
	{ blocks }: TiffStructure,
	windows: readonly { rowStart: number; rowEnd: number; colStart: number; colEnd: number }[],
	bands: readonly number[],
): number {
	const touched = new Set<number>();
	const planes = blocks.planar ? [...new Set(bands)].map((band) => band - 1) : [0];
	for (const window of windows) {
		for (let y = Math.floor(window.rowStart / blocks.height); y * blocks.height < window.rowEnd; y++) {
			for (let x = Math.floor(window.colStart / blocks.width); x * blocks.width < window.colEnd; x++) {
				for (const plane of planes) touched.add((plane * blocks.down + y) * blocks.across + x);
			}
		}
	}
	let total = 0;
	for (const block of touched) total += blocks.byteCounts[block] ?? 0;
	return total;
}

function invalid(message: string): never {
	throw new RasterInputError("invalid-raster", message);
}

function tooLarge(message: string): never {
	throw new RasterInputError("raster-too-large", message);
}

/**
 * One slice's bytes, read at once: structures are read one after another, so no other request
 * would join the read by waiting for the turn's others (RangedSource.prefetch).
 */
async function readAlone(source: RangedSource, slice: { offset: number; length: number }): Promise<ArrayBuffer> {
	source.prefetch([slice]);
	const [bytes = new ArrayBuffer(0)] = await source.fetch([slice]);
	return bytes;
}

/** Ranged reads of a TIFF's structures in its byte order, never past the end of the file. */
export class TiffReader {
	readonly #source: RangedSource;
	readonly littleEndian: boolean;

	constructor(source: RangedSource, littleEndian: boolean) {
		this.#source = source;
		this.littleEndian = littleEndian;
	}

	get fileSize(): number {
		return this.#source.fileSize;
	}

	async view(offset: number, length: number, what: string): Promise<DataView> {
		if (offset + length > this.fileSize) {
			invalid(
				`${what} (${length} bytes at ${offset}) runs past the end of the file (${this.fileSize} bytes); the file is truncated`,
			);
		}
		return new DataView(await readAlone(this.#source, { offset, length }));
	}

	/** `count` values of a field type at `offset`, which the caller has bounded. */
	async values(type: number, count: number, offset: number, what: string): Promise<number[]> {
		const field = FIELD_TYPES[type];
		if (!field) invalid(`${what} has unknown field type ${type}`);
		const view = await this.view(offset, field.bytes * count, what);
		const { bytes, read } = field;
		const littleEndian = this.littleEndian;
		// A plain loop: Array.from with a mapping function took 25 times as long, which a file in
		// one-row strips pays for each of its 10980 offsets and byte counts, twice a window.
		const values = new Array<number>(count);
		for (let i = 0; i < count; i++) values[i] = read(view, i * bytes, littleEndian);
		return values;
	}
}

/** The values of an entry, inline or out of line, as numbers. */
async function entryValues(reader: TiffReader, entry: Entry): Promise<number[]> {
	return reader.values(entry.type, entry.count, entry.at, `tag ${entry.tag}`);
}

async function readEntries(reader: TiffReader, bigTiff: boolean, ifdOffset: number): Promise<Map<number, Entry>> {
	const countBytes = bigTiff ? 8 : 2;
	const entryBytes = bigTiff ? 20 : 12;
	const inlineBytes = bigTiff ? 8 : 4;
	const le = reader.littleEndian;
	const countView = await reader.view(ifdOffset, countBytes, "the first IFD's entry count");
	const count = bigTiff ? Number(countView.getBigUint64(0, le)) : countView.getUint16(0, le);
	if (count === 0) invalid("the first IFD has no entries");
	if (count > MAX_IFD_ENTRIES) invalid(`the first IFD declares ${count} entries; at most ${MAX_IFD_ENTRIES} are read`);
	const table = await reader.view(ifdOffset + countBytes, count * entryBytes, "the first IFD's entry table");
	const entries = new Map<number, Entry>();
	for (let i = 0; i < count; i++) {
		const at = i * entryBytes;
		const tag = table.getUint16(at, le);
		const type = table.getUint16(at + 2, le);
		const values = bigTiff ? Number(table.getBigUint64(at + 4, le)) : table.getUint32(at + 4, le);
		const field = FIELD_TYPES[type];
		if (!field) invalid(`tag ${tag} has unknown field type ${type}`);
		const bytes = field.bytes * values;
		const valueAt = at + (bigTiff ? 12 : 8);
		let where = ifdOffset + countBytes + valueAt;
		if (bytes > inlineBytes) {
			where = bigTiff ? Number(table.getBigUint64(valueAt, le)) : table.getUint32(valueAt, le);
			if (where + bytes > reader.fileSize) {
				invalid(
					`tag ${tag} holds ${bytes} bytes at ${where}, past the end of the file (${reader.fileSize} bytes); the file is truncated`,
				);
			}
			const blockArray = [TAG.stripOffsets, TAG.stripByteCounts, TAG.tileOffsets, TAG.tileByteCounts].some(
				(blockTag) => blockTag === tag,
			);
			if (!blockArray && bytes > MAX_TAG_BYTES) {
				tooLarge(`tag ${tag} holds ${bytes} bytes; at most ${MAX_TAG_BYTES} are read for one tag`);
			}
		}
		entries.set(tag, { tag, type, count: values, at: where });
	}
	return entries;
}

/** The whole-number values of a tag; `fallback` when it is absent, or refused if none is given. */
async function numbers(
	reader: TiffReader,
	entries: Map<number, Entry>,
	tag: number,
	name: string,
	fallback?: number[],
): Promise<number[]> {
	const entry = entries.get(tag);
	if (!entry) return fallback ?? invalid(`the required tag ${name} (${tag}) is missing`);
	if (!INTEGER_TYPES.has(entry.type)) invalid(`${name} has field type ${entry.type}, not an unsigned integer`);
	if (entry.count === 0) invalid(`${name} has no value`);
	return entryValues(reader, entry);
}

/** A tag's one value; geotiff.js reads a tag of several values as an array, not a number. */
async function scalar(
	reader: TiffReader,
	entries: Map<number, Entry>,
	tag: number,
	name: string,
	fallback?: number,
): Promise<number> {
	const values = await numbers(reader, entries, tag, name, fallback === undefined ? undefined : [fallback]);
	if (values.length !== 1) invalid(`${name} has ${values.length} values, not one`);
	return values[0] ?? 0;
}

/**
 * Reads and checks the header and first IFD. Refuses (with a {@link RasterInputError}) wrong
 * magic, offsets or arrays past the end of the file, zero or oversized dimensions, blocks and
 * band counts, block arrays of the wrong length, and blocks stored past the end of the file or
 * larger than any compression of them could be.
 */
export async function readTiffStructure(
	source: RangedSource,
	limits: RasterLimits,
): Promise<{ reader: TiffReader; structure: TiffStructure }> {
	const size = source.fileSize;
	if (size < 8) invalid(`the file has ${size} bytes, fewer than a TIFF header`);
	const header = new DataView(await readAlone(source, { offset: 0, length: Math.min(16, size) }));
	const order = header.getUint16(0, false);
	if (order !== 0x4949 && order !== 0x4d4d) {
		invalid(`byte order mark 0x${order.toString(16)} is neither II nor MM`);
	}
	const reader = new TiffReader(source, order === 0x4949);
	const le = reader.littleEndian;
	const magic = header.getUint16(2, le);
	if (magic !== 42 && magic !== 43) invalid(`magic number ${magic} is neither 42 (TIFF) nor 43 (BigTIFF)`);
	const bigTiff = magic === 43;
	if (bigTiff && (size < 16 || header.getUint16(4, le) !== 8)) invalid("the BigTIFF header is malformed");
	const ifdOffset = bigTiff ? Number(header.getBigUint64(8, le)) : header.getUint32(4, le);
	if (ifdOffset < (bigTiff ? 16 : 8) || ifdOffset >= size) {
		invalid(`the first IFD's offset ${ifdOffset} lies outside the file (${size} bytes)`);
	}
	const entries = await readEntries(reader, bigTiff, ifdOffset);

	const width = await scalar(reader, entries, TAG.imageWidth, "ImageWidth");
	const height = await scalar(reader, entries, TAG.imageLength, "ImageLength");
	if (width < 1 || height < 1) invalid(`the image is ${width} x ${height} pixels`);
	if (width > limits.maxDimension || height > limits.maxDimension) {
		tooLarge(
			`the image is ${width} x ${height} pixels; the limit is ${limits.maxDimension} pixels per side (RASTER_MAX_DIMENSION)`,
		);
	}
	const samplesPerPixel = await scalar(reader, entries, TAG.samplesPerPixel, "SamplesPerPixel", 1);
	if (samplesPerPixel < 1) invalid("the image has no samples per pixel");
	if (samplesPerPixel > limits.maxBands) {
		tooLarge(
			`the image has ${samplesPerPixel} bands (samples per pixel); the limit is ${limits.maxBands} (RASTER_MAX_BANDS)`,
		);
	}
	let bits = await numbers(reader, entries, TAG.bitsPerSample, "BitsPerSample", [1]);
	// Some writers state one BitsPerSample for all samples.
	if (bits.length === 1) bits = Array.from({ length: samplesPerPixel }, () => bits[0] ?? 1);
	if (bits.length !== samplesPerPixel) {
		invalid(`BitsPerSample has ${bits.length} values for ${samplesPerPixel} samples per pixel`);
	}
	if (bits.some((value) => value < 1 || value > 64)) invalid(`BitsPerSample ${bits.join(", ")} is out of range`);
	const planar = await scalar(reader, entries, TAG.planarConfiguration, "PlanarConfiguration", 1);
	if (planar !== 1 && planar !== 2) invalid(`PlanarConfiguration ${planar} is neither 1 nor 2`);

	const tiled = entries.has(TAG.tileWidth) || entries.has(TAG.tileOffsets);
	// geotiff.js reads a file as stripped whenever it has StripOffsets.
	if (tiled && entries.has(TAG.stripOffsets)) invalid("the image declares both strips and tiles");
	const blockWidth = tiled ? await scalar(reader, entries, TAG.tileWidth, "TileWidth") : width;
	const blockHeight = tiled
		? await scalar(reader, entries, TAG.tileLength, "TileLength")
		: Math.min(await scalar(reader, entries, TAG.rowsPerStrip, "RowsPerStrip", height), height);
	const kind = tiled ? "tile" : "strip";
	if (blockWidth < 1 || blockHeight < 1) invalid(`a ${kind} is ${blockWidth} x ${blockHeight} pixels`);
	const blockBits = planar === 2 ? Math.max(...bits) : bits.reduce((sum, value) => sum + value, 0);
	const decodedBlockBytes = Math.ceil((blockWidth * blockBits) / 8) * blockHeight;
	if (decodedBlockBytes > limits.maxBlockBytes) {
		tooLarge(
			`one ${kind} of ${blockWidth} x ${blockHeight} pixels decodes to ${decodedBlockBytes} bytes; the limit is ${limits.maxBlockBytes} bytes (RASTER_MAX_BLOCK_BYTES)`,
		);
	}
	const planes = planar === 2 ? samplesPerPixel : 1;
	const blocks = Math.ceil(width / blockWidth) * Math.ceil(height / blockHeight) * planes;
	if (blocks > limits.maxBlocks) {
		tooLarge(`the image has ${blocks} ${kind}s; the limit is ${limits.maxBlocks} (RASTER_MAX_BLOCKS)`);
	}

	const [offsetsTag, countsTag] = tiled
		? ([TAG.tileOffsets, TAG.tileByteCounts] as const)
		: ([TAG.stripOffsets, TAG.stripByteCounts] as const);
	const names = tiled ? ["TileOffsets", "TileByteCounts"] : ["StripOffsets", "StripByteCounts"];
	for (const [tag, name] of [
		[offsetsTag, names[0]],
		[countsTag, names[1]],
	] as const) {
		const count = entries.get(tag)?.count ?? 0;
		if (count !== blocks) {
			invalid(
				`${name} has ${count} entries; ${width} x ${height} pixels in ${blockWidth} x ${blockHeight} ${kind}s${planes > 1 ? ` of ${planes} planes` : ""} need ${blocks}`,
			);
		}
	}
	const offsets = await numbers(reader, entries, offsetsTag, names[0] ?? "");
	const byteCounts = await numbers(reader, entries, countsTag, names[1] ?? "");
	const maxStored = maxStoredBlockBytes(decodedBlockBytes);
	let outside = 0;
	for (let block = 0; block < blocks; block++) {
		const stored = byteCounts[block] ?? 0;
		if (stored > maxStored) {
			invalid(
				`${kind} ${block} stores ${stored} bytes, more than any compression of its ${decodedBlockBytes} decoded bytes takes`,
			);
		}
		if ((offsets[block] ?? 0) + stored > size) outside++;
	}
	if (outside > 0) {
		invalid(`${outside} data blocks lie past the end of the file (${size} bytes); the file is truncated`);
	}
	const blockGrid = {
		width: blockWidth,
		height: blockHeight,
		across: Math.ceil(width / blockWidth),
		down: Math.ceil(height / blockHeight),
		planar: planar === 2,
		byteCounts: Array.from(byteCounts, Number),
	};
	return { reader, structure: { blocks: blockGrid } };
}

/** Rationals are pairs; geotiff.js keeps their two halves, which this reader does not. */
export function readsAsNumbers(type: number): boolean {
	return FIELD_TYPES[type] !== undefined && !RATIONAL_TYPES.has(type);
}
