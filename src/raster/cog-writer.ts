/**
 * The layout of result.tif, a Cloud-Optimized GeoTIFF, computed before any pixel is written.
 *
 * store streams the file in one pass and never holds it whole, so everything that points into
 * the file is computed from the tiles' byte counts alone: the TIFF header, GDAL's structural
 * metadata, then every IFD with its arrays (full resolution first, then the overviews, largest
 * first), then the tile data: the smallest overview first and the full resolution last, each
 * level's tiles in row-major order. That is the layout of GDAL's COG driver (without its
 * block leaders and trailers), which `validate_cloud_optimized_geotiff.py` checks.
 *
 * Tiles are 512 x 512 samples of the output type (src/raster/output-type.ts), deflate with its
 * predictor: float32 (the default) with the floating-point predictor (3) and NaN for nodata,
 * integers with the horizontal predictor (2) and the type's nodata. Scale and offset other
 * than 1 and 0 are written as the band's GDAL scale and offset. Little-endian; BigTIFF only when a classic TIFF's 32-bit offsets cannot address the file.
 * The georeference is copied tag for tag, so GDAL reports the input's CRS and geotransform.
 */
import type { GeoReference } from "./georeference";
import { FLOAT32_OUTPUT, type OutputOptions, outputTypes } from "./output-type";

/** Side of every tile, at every level. */
export const COG_TILE_SIZE = 512;

export interface CogLayout {
	width: number;
	height: number;
	geo: GeoReference;
	/** Band description GDAL shows (e.g. the index name); omitted when absent. */
	description?: string;
	/** How the samples are stored; float32 as computed when absent. */
	output?: OutputOptions;
}

/** One resolution level: level 0 is the full resolution, level k is 2^k times coarser. */
export interface CogLevel {
	width: number;
	height: number;
	tilesAcross: number;
	tilesDown: number;
}

export interface CogHeader {
	/** Everything before the first tile: its length is the first tile's offset. */
	header: Uint8Array;
	/** Size of the complete file: header plus every tile. */
	totalBytes: number;
	bigTiff: boolean;
}

const SHORT = 3;
const LONG = 4;
const DOUBLE = 12;
const ASCII = 2;
const LONG8 = 16;
type FieldType = typeof SHORT | typeof LONG | typeof DOUBLE | typeof ASCII | typeof LONG8;

const FIELD_TYPE_BYTES: Record<FieldType, number> = {
	[SHORT]: 2,
	[LONG]: 4,
	[DOUBLE]: 8,
	[ASCII]: 1,
	[LONG8]: 8,
};
const FIELD_TYPE_MAX: Partial<Record<FieldType, number>> = {
	[SHORT]: 0xffff,
	[LONG]: 0xffffffff,
	[LONG8]: Number.MAX_SAFE_INTEGER,
};

interface TagEntry {
	tag: number;
	type: FieldType;
	/** Numbers, or for ASCII the encoded text including its NUL terminator. */
	values: number[] | Uint8Array;
}

/** The two TIFF variants differ only in the widths of counts, offsets and IFD entries. */
interface TiffFormat {
	bigTiff: boolean;
	headerBytes: number;
	/** Widths of the IFD's entry count and of the next-IFD offset that ends it. */
	entryCountBytes: number;
	nextIfdBytes: number;
	entryBytes: number;
	/** Values up to this size sit in the entry itself instead of behind an offset. */
	inlineBytes: number;
	offsetType: FieldType;
}

const CLASSIC_TIFF: TiffFormat = {
	bigTiff: false,
	headerBytes: 8,
	entryCountBytes: 2,
	nextIfdBytes: 4,
	entryBytes: 12,
	inlineBytes: 4,
	offsetType: LONG,
};
const BIG_TIFF: TiffFormat = {
	bigTiff: true,
	headerBytes: 16,
	entryCountBytes: 8,
	nextIfdBytes: 8,
	entryBytes: 20,
	inlineBytes: 8,
	offsetType: LONG8,
};
const CLASSIC_TIFF_MAX_BYTES = 0xffffffff;

/** TIFF and GeoTIFF tag ids, in the ascending order the IFD lists them. */
const TAG = {
	NewSubfileType: 254,
	ImageWidth: 256,
	ImageLength: 257,
	BitsPerSample: 258,
	Compression: 259,
	PhotometricInterpretation: 262,
	SamplesPerPixel: 277,
	PlanarConfiguration: 284,
	Predictor: 317,
	TileWidth: 322,
	TileLength: 323,
	TileOffsets: 324,
	TileByteCounts: 325,
	SampleFormat: 339,
	ModelPixelScale: 33550,
	ModelTiepoint: 33922,
	ModelTransformation: 34264,
	GeoKeyDirectory: 34735,
	GeoDoubleParams: 34736,
	GeoAsciiParams: 34737,
	GdalMetadata: 42112,
	GdalNodata: 42113,
} as const;

const COMPRESSION_DEFLATE = 8;
const REDUCED_RESOLUTION = 1;

/**
 * GDAL's "ghost" structural metadata right after the TIFF header, which tells readers (and the
 * COG validator) that the IFDs come before the data and the tiles are in row-major order.
 */
function structuralMetadata(): Uint8Array {
	let body = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nKNOWN_INCOMPATIBLE_EDITION=NO\n";
	const prefix = (size: number) => `GDAL_STRUCTURAL_METADATA_SIZE=${String(size).padStart(6, "0")} bytes\n`;
	// The first IFD must start on a word boundary right after this text.
	if ((prefix(body.length).length + body.length) % 2 === 1) body += " ";
	return new TextEncoder().encode(prefix(body.length) + body);
}

/** The levels of a raster: the full resolution, then halves (rounded up) until both sides fit one tile. */
export function cogLevels(width: number, height: number): CogLevel[] {
	for (const [name, value] of Object.entries({ width, height })) {
		if (!Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) {
			throw new RangeError(`${name} must be an integer from 1 to 2^32-1, got ${value}`);
		}
	}
	const level = (w: number, h: number): CogLevel => ({
		width: w,
		height: h,
		tilesAcross: Math.ceil(w / COG_TILE_SIZE),
		tilesDown: Math.ceil(h / COG_TILE_SIZE),
	});
	const levels = [level(width, height)];
	for (let last = levels[0] as CogLevel; Math.max(last.width, last.height) > COG_TILE_SIZE; ) {
		last = level(Math.ceil(last.width / 2), Math.ceil(last.height / 2));
		levels.push(last);
	}
	return levels;
}

/**
 * Builds the header of the COG for `layout`, given the byte count of every tile of every level
 * (`tileByteCounts[level]`, row-major, as many as {@link cogLevels} gives tiles). Append the
 * tiles right after it: every level from the last to level 0, each in row-major order.
 */
export function cogHeader(layout: CogLayout, tileByteCounts: readonly (readonly number[])[]): CogHeader {
	const levels = cogLevels(layout.width, layout.height);
	if (tileByteCounts.length !== levels.length) {
		throw new RangeError(`${levels.length} levels need tile byte counts, got ${tileByteCounts.length}`);
	}
	levels.forEach((level, index) => {
		const expected = level.tilesAcross * level.tilesDown;
		if (tileByteCounts[index]?.length !== expected) {
			throw new RangeError(`level ${index} has ${expected} tiles, got ${tileByteCounts[index]?.length} byte counts`);
		}
	});
	const dataBytes = tileByteCounts.flat().reduce((sum, count) => sum + count, 0);
	const ghost = structuralMetadata();

	// The header's size depends on how many offsets there are, not on their values.
	const placeAll = (format: TiffFormat, offsets: readonly (readonly number[])[]) => {
		let cursor = format.headerBytes + ghost.length;
		return levels.map((level, index) => {
			const entries = tagEntries(layout, level, index, offsets[index] ?? [], tileByteCounts[index] ?? [], format);
			const placement = placeValues(entries, format, cursor);
			const ifdOffset = cursor;
			cursor = placement.end;
			return { entries, placement, ifdOffset };
		});
	};
	const headerBytesAs = (format: TiffFormat) => alignTo8(placeAll(format, tileByteCounts).at(-1)?.placement.end ?? 0);
	let format = CLASSIC_TIFF;
	let headerBytes = headerBytesAs(format);
	if (headerBytes + dataBytes > CLASSIC_TIFF_MAX_BYTES) {
		format = BIG_TIFF;
		headerBytes = headerBytesAs(format);
	}
	const totalBytes = headerBytes + dataBytes;
	if (totalBytes > Number.MAX_SAFE_INTEGER) {
		const type = (layout.output ?? FLOAT32_OUTPUT).data_type;
		throw new RangeError(`a ${layout.width} x ${layout.height} ${type} raster is too large to address`);
	}

	const offsets: number[][] = levels.map(() => []);
	let nextOffset = headerBytes;
	for (let index = levels.length - 1; index >= 0; index--) {
		for (const count of tileByteCounts[index] ?? []) {
			offsets[index]?.push(count === 0 ? 0 : nextOffset);
			nextOffset += count;
		}
	}
	const ifds = placeAll(format, offsets);
	const bytes = new Uint8Array(headerBytes);
	const view = new DataView(bytes.buffer);
	writeFileHeader(view, format, ifds[0]?.ifdOffset ?? 0);
	bytes.set(ghost, format.headerBytes);
	ifds.forEach(({ entries, placement, ifdOffset }, index) => {
		encodeIfd(view, entries, format, placement, ifdOffset, ifds[index + 1]?.ifdOffset ?? 0);
	});
	return { header: bytes, totalBytes, bigTiff: format.bigTiff };
}

/** Every tag of one level's IFD, in ascending tag order as TIFF requires. */
function tagEntries(
	layout: CogLayout,
	level: CogLevel,
	levelIndex: number,
	tileOffsets: readonly number[],
	tileByteCounts: readonly number[],
	format: TiffFormat,
): TagEntry[] {
	const { geo, description, output = FLOAT32_OUTPUT } = layout;
	const type = outputTypes[output.data_type];
	const fullResolution = levelIndex === 0;
	const metadata = fullResolution ? gdalMetadataXml(description, output) : null;
	const entries: (TagEntry | null)[] = [
		fullResolution ? null : { tag: TAG.NewSubfileType, type: LONG, values: [REDUCED_RESOLUTION] },
		{ tag: TAG.ImageWidth, type: LONG, values: [level.width] },
		{ tag: TAG.ImageLength, type: LONG, values: [level.height] },
		{ tag: TAG.BitsPerSample, type: SHORT, values: [type.bytes * 8] },
		{ tag: TAG.Compression, type: SHORT, values: [COMPRESSION_DEFLATE] },
		{ tag: TAG.PhotometricInterpretation, type: SHORT, values: [1] }, // BlackIsZero
		{ tag: TAG.SamplesPerPixel, type: SHORT, values: [1] },
		{ tag: TAG.PlanarConfiguration, type: SHORT, values: [1] }, // contiguous
		{ tag: TAG.Predictor, type: SHORT, values: [type.predictor] },
		{ tag: TAG.TileWidth, type: SHORT, values: [COG_TILE_SIZE] },
		{ tag: TAG.TileLength, type: SHORT, values: [COG_TILE_SIZE] },
		{ tag: TAG.TileOffsets, type: format.offsetType, values: [...tileOffsets] },
		{ tag: TAG.TileByteCounts, type: format.offsetType, values: [...tileByteCounts] },
		{ tag: TAG.SampleFormat, type: SHORT, values: [type.sampleFormat] },
		// The georeference and the band's metadata belong to the dataset: GDAL reads them from the first IFD.
		...(fullResolution
			? [
					numbersEntry(TAG.ModelPixelScale, DOUBLE, geo.modelPixelScale),
					numbersEntry(TAG.ModelTiepoint, DOUBLE, geo.modelTiepoint),
					numbersEntry(TAG.ModelTransformation, DOUBLE, geo.modelTransformation),
					numbersEntry(TAG.GeoKeyDirectory, SHORT, geo.geoKeyDirectory),
					numbersEntry(TAG.GeoDoubleParams, DOUBLE, geo.geoDoubleParams),
					geo.geoAsciiParams === null ? null : asciiEntry(TAG.GeoAsciiParams, geo.geoAsciiParams),
					metadata === null ? null : asciiEntry(TAG.GdalMetadata, metadata),
				]
			: []),
		asciiEntry(TAG.GdalNodata, Number.isNaN(type.nodata) ? "nan" : String(type.nodata)),
	];
	return entries.filter((entry) => entry !== null);
}

function numbersEntry(tag: number, type: FieldType, values: number[] | null): TagEntry | null {
	return values === null || values.length === 0 ? null : { tag, type, values };
}

function asciiEntry(tag: number, text: string): TagEntry {
	if (text.includes("\0")) throw new Error(`TIFF tag ${tag}: ASCII values cannot contain NUL`);
	// TIFF ASCII is nominally 7-bit; GDAL reads and writes UTF-8 in these tags.
	return { tag, type: ASCII, values: new TextEncoder().encode(`${text}\0`) };
}

/**
 * GDAL's per-band metadata document, or null when there is none to write: the description is
 * what `gdalinfo` shows for band 1; offset and scale (both, as GDAL writes them, unless they
 * are 0 and 1) are what GetOffset() and GetScale() return. Numbers are written in JavaScript's
 * shortest form, which reads back as the same double.
 */
function gdalMetadataXml(description: string | undefined, { scale, offset }: OutputOptions): string | null {
	const items = [
		description === undefined
			? null
			: `<Item name="DESCRIPTION" sample="0" role="description">${escapeXml(description)}</Item>`,
		...(scale === 1 && offset === 0
			? []
			: [
					`<Item name="OFFSET" sample="0" role="offset">${offset}</Item>`,
					`<Item name="SCALE" sample="0" role="scale">${scale}</Item>`,
				]),
	].filter((item) => item !== null);
	if (items.length === 0) return null;
	return `<GDALMetadata>\n${items.map((item) => `  ${item}\n`).join("")}</GDALMetadata>\n`;
}

function escapeXml(text: string): string {
	return text.replace(
		/[&<>"']/g,
		(char) =>
			({
				"&": "&amp;",
				"<": "&lt;",
				">": "&gt;",
				'"': "&quot;",
				"'": "&apos;",
			})[char] ?? char,
	);
}

function byteLength(entry: TagEntry): number {
	return entry.values.length * FIELD_TYPE_BYTES[entry.type];
}

function alignTo8(offset: number): number {
	return Math.ceil(offset / 8) * 8;
}

interface Placement {
	/** Where each entry's value lives, or null when it fits in the entry. */
	valueOffsets: (number | null)[];
	/** The first byte after the IFD and its values. */
	end: number;
}

/** Lays out an IFD at `ifdOffset`, then the values too large to sit in its entries. */
function placeValues(entries: TagEntry[], format: TiffFormat, ifdOffset: number): Placement {
	let cursor = ifdOffset + format.entryCountBytes + entries.length * format.entryBytes + format.nextIfdBytes;
	const valueOffsets = entries.map((entry) => {
		if (byteLength(entry) <= format.inlineBytes) return null;
		// TIFF requires word alignment; 8 also aligns the doubles for readers that view them in place.
		const valueOffset = alignTo8(cursor);
		cursor = valueOffset + byteLength(entry);
		return valueOffset;
	});
	// The next IFD starts on a word boundary.
	return { valueOffsets, end: alignTo8(cursor) };
}

function writeFileHeader(view: DataView, format: TiffFormat, firstIfdOffset: number): void {
	view.setUint8(0, 0x49); // "II": little-endian
	view.setUint8(1, 0x49);
	if (format.bigTiff) {
		view.setUint16(2, 43, true);
		view.setUint16(4, 8, true); // offsets are 8 bytes wide
		view.setUint16(6, 0, true);
		view.setBigUint64(8, BigInt(firstIfdOffset), true);
	} else {
		view.setUint16(2, 42, true);
		view.setUint32(4, firstIfdOffset, true);
	}
}

function writeOffset(view: DataView, at: number, value: number, format: TiffFormat): void {
	if (format.bigTiff) view.setBigUint64(at, BigInt(value), true);
	else view.setUint32(at, value, true);
}

function encodeIfd(
	view: DataView,
	entries: TagEntry[],
	format: TiffFormat,
	placement: Placement,
	ifdOffset: number,
	nextIfdOffset: number,
): void {
	if (format.bigTiff) view.setBigUint64(ifdOffset, BigInt(entries.length), true);
	else view.setUint16(ifdOffset, entries.length, true);
	entries.forEach((entry, index) => {
		const entryOffset = ifdOffset + format.entryCountBytes + index * format.entryBytes;
		const valueField = entryOffset + (format.bigTiff ? 12 : 8);
		view.setUint16(entryOffset, entry.tag, true);
		view.setUint16(entryOffset + 2, entry.type, true);
		writeOffset(view, entryOffset + 4, entry.values.length, format);
		const valueOffset = placement.valueOffsets[index] ?? null;
		if (valueOffset === null) {
			writeValues(view, valueField, entry);
		} else {
			writeOffset(view, valueField, valueOffset, format);
			writeValues(view, valueOffset, entry);
		}
	});
	writeOffset(view, ifdOffset + format.entryCountBytes + entries.length * format.entryBytes, nextIfdOffset, format);
}

function writeValues(view: DataView, offset: number, entry: TagEntry): void {
	const size = FIELD_TYPE_BYTES[entry.type];
	const max = FIELD_TYPE_MAX[entry.type];
	entry.values.forEach((value, i) => {
		if (max !== undefined && !(Number.isInteger(value) && value >= 0 && value <= max)) {
			throw new RangeError(`TIFF tag ${entry.tag}: ${value} does not fit its integer type`);
		}
		const at = offset + i * size;
		switch (entry.type) {
			case ASCII:
				view.setUint8(at, value);
				break;
			case SHORT:
				view.setUint16(at, value, true);
				break;
			case LONG:
				view.setUint32(at, value, true);
				break;
			case LONG8:
				view.setBigUint64(at, BigInt(value), true);
				break;
			case DOUBLE:
				view.setFloat64(at, value, true);
				break;
		}
	});
}
