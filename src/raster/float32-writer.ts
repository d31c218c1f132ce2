/**
 * The TIFF header of a single-band float32 GeoTIFF whose strips are streamed after it.
 *
 * The store stage cannot hold a whole result in memory, so the header is computed from the
 * layout alone and the compute stage's strips (raw little-endian float32, row-major) follow
 * it verbatim: strip i starts at header.length + the byte counts of strips 0..i-1. The file is
 * uncompressed, little-endian, one IFD; BigTIFF only when a classic TIFF's 32-bit offsets
 * cannot address it. The georeference is copied tag for tag, so GDAL reports the input's CRS
 * and geotransform; nodata is NaN.
 */
import type { GeoReference } from "./georeference";

export interface Float32RasterLayout {
	width: number;
	height: number;
	/** Rows in every strip but possibly the last, which holds the remainder. */
	rowsPerStrip: number;
	geo: GeoReference;
	/** Band description GDAL shows (e.g. the index name); omitted when absent. */
	description?: string;
}

export interface Float32StripHeader {
	/** Everything before the first strip; its length is the first strip's offset. */
	header: Uint8Array;
	/** Byte count of each strip, in file order. */
	stripByteCounts: number[];
	/** Size of the complete file: header plus all strips. */
	totalBytes: number;
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

const BYTES_PER_SAMPLE = 4;

/** TIFF and GeoTIFF tag ids, in the ascending order the IFD lists them. */
const TAG = {
	ImageWidth: 256,
	ImageLength: 257,
	BitsPerSample: 258,
	Compression: 259,
	PhotometricInterpretation: 262,
	StripOffsets: 273,
	SamplesPerPixel: 277,
	RowsPerStrip: 278,
	StripByteCounts: 279,
	PlanarConfiguration: 284,
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

/**
 * Builds the header of a float32 strip GeoTIFF for `layout`. Append the strips, in order and
 * unchanged, right after `header`; each must be exactly its entry in `stripByteCounts` long.
 */
export function float32StripHeader(layout: Float32RasterLayout): Float32StripHeader {
	const { width, height, rowsPerStrip } = layout;
	for (const [name, value] of Object.entries({ width, height, rowsPerStrip })) {
		if (!Number.isSafeInteger(value) || value < 1 || value > 0xffffffff) {
			throw new RangeError(`${name} must be an integer from 1 to 2^32-1, got ${value}`);
		}
	}
	const stripRows = Math.min(rowsPerStrip, height);
	const stripByteCounts: number[] = [];
	for (let row = 0; row < height; row += stripRows) {
		stripByteCounts.push(Math.min(stripRows, height - row) * width * BYTES_PER_SAMPLE);
	}
	const dataBytes = stripByteCounts.reduce((sum, count) => sum + count, 0);

	// The header's size does not depend on the offsets' values, only on how many there are.
	const headerBytesAs = (format: TiffFormat) =>
		placeValues(tagEntries(layout, stripRows, stripByteCounts, stripByteCounts, format), format).headerBytes;
	let format = CLASSIC_TIFF;
	let headerBytes = headerBytesAs(format);
	if (headerBytes + dataBytes > CLASSIC_TIFF_MAX_BYTES) {
		format = BIG_TIFF;
		headerBytes = headerBytesAs(format);
	}
	const totalBytes = headerBytes + dataBytes;
	if (totalBytes > Number.MAX_SAFE_INTEGER) {
		throw new RangeError(`a ${width} x ${height} float32 raster is too large to address`);
	}

	let nextOffset = headerBytes;
	const stripOffsets = stripByteCounts.map((count) => {
		const offset = nextOffset;
		nextOffset += count;
		return offset;
	});
	const entries = tagEntries(layout, stripRows, stripOffsets, stripByteCounts, format);
	return {
		header: encodeHeader(entries, format, placeValues(entries, format)),
		stripByteCounts,
		totalBytes,
	};
}

/** Every tag of the IFD, in ascending tag order as TIFF requires. */
function tagEntries(
	layout: Float32RasterLayout,
	stripRows: number,
	stripOffsets: number[],
	stripByteCounts: number[],
	format: TiffFormat,
): TagEntry[] {
	const { geo } = layout;
	const entries: (TagEntry | null)[] = [
		{ tag: TAG.ImageWidth, type: LONG, values: [layout.width] },
		{ tag: TAG.ImageLength, type: LONG, values: [layout.height] },
		{ tag: TAG.BitsPerSample, type: SHORT, values: [32] },
		{ tag: TAG.Compression, type: SHORT, values: [1] }, // none
		{ tag: TAG.PhotometricInterpretation, type: SHORT, values: [1] }, // BlackIsZero
		{ tag: TAG.StripOffsets, type: format.offsetType, values: stripOffsets },
		{ tag: TAG.SamplesPerPixel, type: SHORT, values: [1] },
		{ tag: TAG.RowsPerStrip, type: LONG, values: [stripRows] },
		{
			tag: TAG.StripByteCounts,
			type: format.offsetType,
			values: stripByteCounts,
		},
		{ tag: TAG.PlanarConfiguration, type: SHORT, values: [1] }, // contiguous
		{ tag: TAG.SampleFormat, type: SHORT, values: [3] }, // IEEE float
		numbersEntry(TAG.ModelPixelScale, DOUBLE, geo.modelPixelScale),
		numbersEntry(TAG.ModelTiepoint, DOUBLE, geo.modelTiepoint),
		numbersEntry(TAG.ModelTransformation, DOUBLE, geo.modelTransformation),
		numbersEntry(TAG.GeoKeyDirectory, SHORT, geo.geoKeyDirectory),
		numbersEntry(TAG.GeoDoubleParams, DOUBLE, geo.geoDoubleParams),
		geo.geoAsciiParams === null ? null : asciiEntry(TAG.GeoAsciiParams, geo.geoAsciiParams),
		layout.description === undefined ? null : asciiEntry(TAG.GdalMetadata, gdalMetadataXml(layout.description)),
		asciiEntry(TAG.GdalNodata, "nan"),
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

/** GDAL's per-band metadata document: the description is what `gdalinfo` shows for band 1. */
function gdalMetadataXml(description: string): string {
	const escaped = description.replace(
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
	return `<GDALMetadata>\n  <Item name="DESCRIPTION" sample="0" role="description">${escaped}</Item>\n</GDALMetadata>\n`;
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
	/** Header size, padded to 8 so float32 strips (and doubles before them) are aligned. */
	headerBytes: number;
}

/** Lays out header, IFD and then the values too large to sit in their entries. */
function placeValues(entries: TagEntry[], format: TiffFormat): Placement {
	let cursor = format.headerBytes + format.entryCountBytes + entries.length * format.entryBytes + format.nextIfdBytes;
	const valueOffsets = entries.map((entry) => {
		if (byteLength(entry) <= format.inlineBytes) return null;
		// TIFF requires word alignment; 8 also aligns the doubles for readers that view them in place.
		const valueOffset = alignTo8(cursor);
		cursor = valueOffset + byteLength(entry);
		return valueOffset;
	});
	return { valueOffsets, headerBytes: alignTo8(cursor) };
}

function encodeHeader(entries: TagEntry[], format: TiffFormat, placement: Placement): Uint8Array {
	const bytes = new Uint8Array(placement.headerBytes);
	const view = new DataView(bytes.buffer);
	const ifdOffset = format.headerBytes;
	bytes.set([0x49, 0x49]); // "II": little-endian
	if (format.bigTiff) {
		view.setUint16(2, 43, true);
		view.setUint16(4, 8, true); // offsets are 8 bytes wide
		view.setUint16(6, 0, true);
		view.setBigUint64(8, BigInt(ifdOffset), true);
		view.setBigUint64(ifdOffset, BigInt(entries.length), true);
	} else {
		view.setUint16(2, 42, true);
		view.setUint32(4, ifdOffset, true);
		view.setUint16(ifdOffset, entries.length, true);
	}
	// The next-IFD offset after the entries stays zero: there is one image.
	entries.forEach((entry, index) => {
		const entryOffset = ifdOffset + format.entryCountBytes + index * format.entryBytes;
		const valueField = entryOffset + (format.bigTiff ? 12 : 8);
		view.setUint16(entryOffset, entry.tag, true);
		view.setUint16(entryOffset + 2, entry.type, true);
		if (format.bigTiff) {
			view.setBigUint64(entryOffset + 4, BigInt(entry.values.length), true);
		} else {
			view.setUint32(entryOffset + 4, entry.values.length, true);
		}
		const valueOffset = placement.valueOffsets[index] ?? null;
		if (valueOffset === null) {
			writeValues(view, valueField, entry);
		} else {
			if (format.bigTiff) {
				view.setBigUint64(valueField, BigInt(valueOffset), true);
			} else {
				view.setUint32(valueField, valueOffset, true);
			}
			writeValues(view, valueOffset, entry);
		}
	});
	return bytes;
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
