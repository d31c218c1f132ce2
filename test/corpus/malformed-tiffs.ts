/**
 * Malformed TIFFs made from the GDAL-written fixtures: truncated at every structural boundary,
 * with a wrong byte order or magic, an IFD that points at itself, offsets past the end of the
 * file, zero or huge blocks and dimensions, byte counts that do not match, unsupported codecs
 * and sample layouts, and random byte flips from a fixed seed. The same generator feeds the
 * workerd tests (test/integration/hostile-rasters.test.ts), the stand-in COG host
 * (test/node/remote-cogs.ts) and `npm run fuzz`. It only reads and writes bytes, so it runs
 * under Node and in workerd alike.
 */
import { seededRandom } from "../random";

/** The fixtures (under test/fixtures) and the seed of the corpus the workerd tests run. */
export const CORPUS_FIXTURES = [
	"s2_red_256.tif",
	"s2_bgrn_300x200_lzw_striped.tif",
	"layouts/be_tiled16_red.tif",
	"layouts/bigtiff_red.tif",
	"layouts/lerc_zstd_red.tif",
	"layouts/packbits_tiled_red.tif",
	// Wider than one window of the tests' budget, so the windows after the first start inside blocks.
	"layouts/wide_strips_red.tif",
	"layouts/wide_tiles_red.tif",
] as const;
export const CORPUS_SEED = 6;
/**
 * The nodata value jobs on corpus cases state, so that a corrupted GDAL_NODATA tag does not make
 * them disagree with GDAL's decode about which pixels are nodata.
 */
export const CORPUS_JOB_NODATA = 0;

export interface MalformedCase {
	/** Which fixture and what was done to it, e.g. `s2_red_256.tif: truncated in the IFD entry table`. */
	name: string;
	bytes: Uint8Array;
}

interface Entry {
	tag: number;
	type: number;
	count: number;
	/** Offset of the entry in the file. */
	at: number;
	/** Offset of its values: inside the entry when they fit, else where it points. */
	values: number;
	valueBytes: number;
}

interface Layout {
	littleEndian: boolean;
	bigTiff: boolean;
	ifd: number;
	entryTable: number;
	entryBytes: number;
	entries: Map<number, Entry>;
	/** Where the pointer to the next IFD is. */
	nextIfdAt: number;
	blockOffsetsTag: number;
	blockCountsTag: number;
}

const TYPE_BYTES: Record<number, number> = {
	1: 1,
	2: 1,
	3: 2,
	4: 4,
	5: 8,
	6: 1,
	7: 1,
	8: 2,
	9: 4,
	10: 8,
	11: 4,
	12: 8,
	16: 8,
};
const SHORT = 3;
const LONG = 4;
const LONG8 = 16;

export const TAGS = {
	imageWidth: 256,
	imageLength: 257,
	bitsPerSample: 258,
	compression: 259,
	photometric: 262,
	stripOffsets: 273,
	samplesPerPixel: 277,
	rowsPerStrip: 278,
	stripByteCounts: 279,
	tileWidth: 322,
	tileLength: 323,
	tileOffsets: 324,
	tileByteCounts: 325,
	sampleFormat: 339,
} as const;

function view(bytes: Uint8Array): DataView {
	return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readOffset(data: DataView, at: number, layout: Pick<Layout, "bigTiff" | "littleEndian">): number {
	return layout.bigTiff ? Number(data.getBigUint64(at, layout.littleEndian)) : data.getUint32(at, layout.littleEndian);
}

/** The first IFD of a well-formed fixture, located entry by entry. */
export function layoutOf(bytes: Uint8Array): Layout {
	const data = view(bytes);
	const littleEndian = data.getUint16(0) === 0x4949;
	const bigTiff = data.getUint16(2, littleEndian) === 43;
	const ifd = readOffset(data, bigTiff ? 8 : 4, { bigTiff, littleEndian });
	const count = bigTiff ? Number(data.getBigUint64(ifd, littleEndian)) : data.getUint16(ifd, littleEndian);
	const entryTable = ifd + (bigTiff ? 8 : 2);
	const entryBytes = bigTiff ? 20 : 12;
	const entries = new Map<number, Entry>();
	for (let i = 0; i < count; i++) {
		const at = entryTable + i * entryBytes;
		const type = data.getUint16(at + 2, littleEndian);
		const values = bigTiff ? Number(data.getBigUint64(at + 4, littleEndian)) : data.getUint32(at + 4, littleEndian);
		const valueBytes = (TYPE_BYTES[type] ?? 1) * values;
		const inline = at + (bigTiff ? 12 : 8);
		const where = valueBytes > (bigTiff ? 8 : 4) ? readOffset(data, inline, { bigTiff, littleEndian }) : inline;
		entries.set(data.getUint16(at, littleEndian), {
			tag: data.getUint16(at, littleEndian),
			type,
			count: values,
			at,
			values: where,
			valueBytes,
		});
	}
	const tiled = entries.has(TAGS.tileOffsets);
	return {
		littleEndian,
		bigTiff,
		ifd,
		entryTable,
		entryBytes,
		entries,
		nextIfdAt: entryTable + count * entryBytes,
		blockOffsetsTag: tiled ? TAGS.tileOffsets : TAGS.stripOffsets,
		blockCountsTag: tiled ? TAGS.tileByteCounts : TAGS.stripByteCounts,
	};
}

/** Reads value `index` of an entry (offsets and counts are SHORT, LONG or LONG8). */
function entryValue(bytes: Uint8Array, layout: Layout, entry: Entry, index: number): number {
	const data = view(bytes);
	const size = TYPE_BYTES[entry.type] ?? 4;
	const at = entry.values + index * size;
	if (size === 8) return Number(data.getBigUint64(at, layout.littleEndian));
	return size === 2 ? data.getUint16(at, layout.littleEndian) : data.getUint32(at, layout.littleEndian);
}

function writeValue(data: DataView, at: number, type: number, value: number, littleEndian: boolean): void {
	if (type === SHORT) data.setUint16(at, value, littleEndian);
	else if (type === LONG8) data.setBigUint64(at, BigInt(value), littleEndian);
	else data.setUint32(at, value, littleEndian);
}

/** A copy with a mutation applied to its bytes. */
function mutate(bytes: Uint8Array, change: (data: DataView, copy: Uint8Array) => void): Uint8Array {
	const copy = bytes.slice();
	change(view(copy), copy);
	return copy;
}

// The editors below give null when the fixture lacks the tag they edit; such edits are left out.

/** Sets a tag to one inline value, as a LONG (LONG8 in BigTIFF) so any value fits. */
function withTag(bytes: Uint8Array | null, layout: Layout, tag: number, value: number): Uint8Array | null {
	const entry = layout.entries.get(tag);
	if (!entry || !bytes) return null;
	return mutate(bytes, (data) => {
		const type = layout.bigTiff ? LONG8 : LONG;
		data.setUint16(entry.at + 2, type, layout.littleEndian);
		if (layout.bigTiff) data.setBigUint64(entry.at + 4, 1n, layout.littleEndian);
		else data.setUint32(entry.at + 4, 1, layout.littleEndian);
		writeValue(data, entry.at + (layout.bigTiff ? 12 : 8), type, value, layout.littleEndian);
	});
}

/** Changes the value count an entry declares, leaving its values where they are. */
function withCount(bytes: Uint8Array | null, layout: Layout, tag: number, count: number): Uint8Array | null {
	const entry = layout.entries.get(tag);
	if (!entry || !bytes) return null;
	return mutate(bytes, (data) => {
		if (layout.bigTiff) data.setBigUint64(entry.at + 4, BigInt(count), layout.littleEndian);
		else data.setUint32(entry.at + 4, count, layout.littleEndian);
	});
}

/** Overwrites value `index` of an offsets or byte counts array, wherever it is stored. */
function withArrayValue(
	bytes: Uint8Array | null,
	layout: Layout,
	tag: number,
	index: number,
	value: number,
): Uint8Array | null {
	const entry = layout.entries.get(tag);
	if (!entry || !bytes) return null;
	const size = TYPE_BYTES[entry.type] ?? 4;
	return mutate(bytes, (data) =>
		writeValue(
			data,
			entry.values + index * size,
			entry.type,
			Math.min(value, 2 ** (size * 8) - 1),
			layout.littleEndian,
		),
	);
}

/** Points an out-of-line entry's values elsewhere. */
function withPointer(bytes: Uint8Array | null, layout: Layout, tag: number, offset: number): Uint8Array | null {
	const entry = layout.entries.get(tag);
	if (!entry || !bytes) return null;
	return mutate(bytes, (data) => {
		const at = entry.at + (layout.bigTiff ? 12 : 8);
		if (layout.bigTiff) data.setBigUint64(at, BigInt(offset), layout.littleEndian);
		else data.setUint32(at, offset, layout.littleEndian);
	});
}

/** Flips `count` random bits between `from` and `to`. */
export function flipBits(bytes: Uint8Array, random: () => number, count: number, from = 0, to = bytes.length) {
	return mutate(bytes, (_, copy) => {
		for (let i = 0; i < count; i++) {
			const at = from + Math.floor(random() * (to - from));
			copy[at] = (copy[at] as number) ^ (1 << Math.floor(random() * 8));
		}
	});
}

/** Every structural boundary a reader crosses, as offsets to cut the file at. */
function structuralCuts(bytes: Uint8Array, layout: Layout): [string, number][] {
	const cuts: [string, number][] = [
		["in the byte order mark", 1],
		["in the header", layout.bigTiff ? 12 : 6],
		["right after the header", layout.bigTiff ? 16 : 8],
		["in the IFD's entry count", layout.ifd + 1],
		["in the IFD entry table", layout.entryTable + layout.entryBytes + 5],
		["before the IFD's last entry", layout.nextIfdAt - layout.entryBytes],
		["in the next-IFD pointer", layout.nextIfdAt + 2],
	];
	for (const entry of layout.entries.values()) {
		const outOfLine = entry.valueBytes > (layout.bigTiff ? 8 : 4);
		if (outOfLine && entry.values + entry.valueBytes <= bytes.length) {
			cuts.push([`in tag ${entry.tag}'s array`, entry.values + Math.floor(entry.valueBytes / 2)]);
		}
	}
	const offsets = layout.entries.get(layout.blockOffsetsTag);
	const counts = layout.entries.get(layout.blockCountsTag);
	if (offsets && counts) {
		const first = entryValue(bytes, layout, offsets, 0);
		const length = entryValue(bytes, layout, counts, 0);
		cuts.push(["in the first block's data", first + Math.floor(length / 2)]);
	}
	cuts.push(["one byte short", bytes.length - 1]);
	return cuts.filter(([, at]) => at > 0 && at < bytes.length);
}

/** Edits of a well-formed file's header that must each be refused, or read, without harm. */
function headerEdits(bytes: Uint8Array, layout: Layout): [string, Uint8Array | null][] {
	const { entries, littleEndian } = layout;
	const tiled = entries.has(TAGS.tileWidth);
	const edits: [string, Uint8Array | null][] = [
		["wrong byte order mark", mutate(bytes, (data) => data.setUint16(0, 0x4949 ^ 0x0101))],
		["magic number 41", mutate(bytes, (data) => data.setUint16(2, 41, littleEndian))],
		[
			layout.bigTiff ? "BigTIFF read as classic TIFF" : "classic TIFF read as BigTIFF",
			mutate(bytes, (data) => data.setUint16(2, layout.bigTiff ? 42 : 43, littleEndian)),
		],
		[
			"first IFD offset past the end of the file",
			mutate(bytes, (data) =>
				writeValue(data, layout.bigTiff ? 8 : 4, layout.bigTiff ? LONG8 : LONG, bytes.length + 64, littleEndian),
			),
		],
		[
			"first IFD offset inside the header",
			mutate(bytes, (data) => writeValue(data, layout.bigTiff ? 8 : 4, layout.bigTiff ? LONG8 : LONG, 2, littleEndian)),
		],
		[
			"IFD that points at itself",
			mutate(bytes, (data) =>
				writeValue(data, layout.nextIfdAt, layout.bigTiff ? LONG8 : LONG, layout.ifd, littleEndian),
			),
		],
		[
			"IFD entry count of 65535",
			mutate(bytes, (data) =>
				layout.bigTiff
					? data.setBigUint64(layout.ifd, 65535n, littleEndian)
					: data.setUint16(layout.ifd, 65535, littleEndian),
			),
		],
		[
			"IFD entry count of 0",
			mutate(bytes, (data) =>
				layout.bigTiff ? data.setBigUint64(layout.ifd, 0n, littleEndian) : data.setUint16(layout.ifd, 0, littleEndian),
			),
		],
		[
			"200000 x 200000 pixels",
			withTag(withTag(bytes, layout, TAGS.imageWidth, 200000), layout, TAGS.imageLength, 200000),
		],
		["width 0", withTag(bytes, layout, TAGS.imageWidth, 0)],
		["1000 samples per pixel", withTag(bytes, layout, TAGS.samplesPerPixel, 1000)],
		[
			"first block offset past the end of the file",
			withArrayValue(bytes, layout, layout.blockOffsetsTag, 0, bytes.length + 4096),
		],
		["first block byte count 0", withArrayValue(bytes, layout, layout.blockCountsTag, 0, 0)],
		["first block byte count huge", withArrayValue(bytes, layout, layout.blockCountsTag, 0, 0x7fffffff)],
		[
			"first block byte count one short",
			withArrayValue(
				bytes,
				layout,
				layout.blockCountsTag,
				0,
				entryValue(bytes, layout, entries.get(layout.blockCountsTag) as Entry, 0) - 1,
			),
		],
		[
			// Decodes a few samples short (PackBits stops where its input ends): short of the block's
			// last row, which every window that starts inside the block reads to its end.
			"first block byte count 4 short",
			withArrayValue(
				bytes,
				layout,
				layout.blockCountsTag,
				0,
				entryValue(bytes, layout, entries.get(layout.blockCountsTag) as Entry, 0) - 4,
			),
		],
		[
			"one block offset fewer than the layout needs",
			withCount(bytes, layout, layout.blockOffsetsTag, (entries.get(layout.blockOffsetsTag)?.count ?? 1) - 1),
		],
		["block offsets declaring 2^31 entries", withCount(bytes, layout, layout.blockOffsetsTag, 2 ** 31)],
		["compression 34712 (JPEG 2000)", withTag(bytes, layout, TAGS.compression, 34712)],
		["compression 50001 (WebP)", withTag(bytes, layout, TAGS.compression, 50001)],
		["unknown compression 4242", withTag(bytes, layout, TAGS.compression, 4242)],
		["complex samples (SampleFormat 6)", withTag(bytes, layout, TAGS.sampleFormat, 6)],
		["4-bit samples", withTag(bytes, layout, TAGS.bitsPerSample, 4)],
		["12-bit samples", withTag(bytes, layout, TAGS.bitsPerSample, 12)],
		["0-bit samples", withTag(bytes, layout, TAGS.bitsPerSample, 0)],
		["palette photometric", withTag(bytes, layout, TAGS.photometric, 3)],
		["YCbCr photometric", withTag(bytes, layout, TAGS.photometric, 6)],
	];
	const pointed = [...entries.values()].find((entry) => entry.valueBytes > (layout.bigTiff ? 8 : 4));
	if (pointed) {
		edits.push([
			`tag ${pointed.tag}'s array past the end of the file`,
			withPointer(bytes, layout, pointed.tag, bytes.length + 8),
		]);
	}
	if (tiled) {
		edits.push(
			["tile width 0", withTag(bytes, layout, TAGS.tileWidth, 0)],
			[
				"tiles of 65536 x 65536 pixels",
				withTag(withTag(bytes, layout, TAGS.tileWidth, 65536), layout, TAGS.tileLength, 65536),
			],
			[
				"tiles of 16 x 16 pixels over 60000 x 60000",
				withTag(
					withTag(
						withTag(withTag(bytes, layout, TAGS.tileWidth, 16), layout, TAGS.tileLength, 16),
						layout,
						TAGS.imageWidth,
						60000,
					),
					layout,
					TAGS.imageLength,
					60000,
				),
			],
		);
	} else {
		edits.push(
			["rows per strip 0", withTag(bytes, layout, TAGS.rowsPerStrip, 0)],
			[
				"one strip of the whole image, 65536 rows",
				withTag(withTag(bytes, layout, TAGS.imageLength, 65536), layout, TAGS.rowsPerStrip, 65536),
			],
		);
	}
	return edits;
}

/**
 * The corpus for a set of fixtures: every structural cut and header edit of each, plus
 * `flipsPerFixture` copies with random bit flips (half in the header, half anywhere).
 */
export function malformedTiffs(
	fixtures: Readonly<Record<string, Uint8Array>>,
	{ seed = 6, flipsPerFixture = 4 }: { seed?: number; flipsPerFixture?: number } = {},
): MalformedCase[] {
	const random = seededRandom(seed);
	const cases: MalformedCase[] = [];
	for (const [fixture, bytes] of Object.entries(fixtures)) {
		const layout = layoutOf(bytes);
		for (const [where, at] of structuralCuts(bytes, layout)) {
			cases.push({ name: `${fixture}: truncated ${where} (${at} bytes)`, bytes: bytes.slice(0, at) });
		}
		for (const [what, edited] of headerEdits(bytes, layout)) {
			if (edited) cases.push({ name: `${fixture}: ${what}`, bytes: edited });
		}
		const headerEnd = Math.min(bytes.length, layout.nextIfdAt + 1024);
		for (let i = 0; i < flipsPerFixture; i++) {
			const inHeader = i % 2 === 0;
			cases.push({
				name: `${fixture}: random bit flips #${i + 1} ${inHeader ? "in the header" : "anywhere"} (seed ${seed})`,
				bytes: flipBits(bytes, random, inHeader ? 4 : 64, 0, inHeader ? headerEnd : bytes.length),
			});
		}
	}
	return cases;
}
