/**
 * Reads windows (rows x columns) of chosen bands, the only pixel reads compute makes.
 *
 * geotiff.js's readRasters copies every pixel through a DataView call, which costs more than
 * decoding. For the layouts archives use (whole-byte integer or float samples, one type for
 * every band), blocks are decoded through geotiff.js's decoders, brought to this machine's byte
 * order with predictor 2 undone (by the decoder, or here with src/raster/block-samples.ts), and
 * their rows copied into the caller's arrays as typed-array slices; every other layout goes
 * through readRasters.
 *
 * A window's blocks are read in groups of at most READ_GROUP_BYTES stored (or one block), each
 * group decoded before the next is read, so a window never holds more than one group's
 * compressed bytes beside its decoded blocks (see windowBytes in src/pipeline/plan.ts). A
 * decoded window can be copied out whole or by columns, so one decode serves several chunks.
 *
 * The blocks EO Edge's Wasm codecs decode (Deflate, LZW, ZSTD, wholly inside the window) stay in
 * the block decoder's memory until the window is released, and the next window is decoded
 * where they were: a fresh buffer per block, and the collections they caused, were about a
 * quarter of a read's CPU profile (docs/performance.md, Decoding).
 */
import { type GeoTIFFImage, getDecoder, type TypedArray } from "geotiff";
import { HOST_LITTLE_ENDIAN, reverseSampleBytes, undoHorizontalDifferencing } from "./block-samples";
import {
	blockParameters,
	COMPRESSION,
	type DecodedBlock,
	decodableCompressions,
	describeCompression,
	keepingDecoder,
	PHOTOMETRIC,
	takesStoredViews,
} from "./decoders";
import { RasterInputError } from "./input-errors";
import { dataTypeName, ycbcrUnreadable } from "./inspect";
import { RangedSource } from "./ranged-source";
import { copyRows, SAMPLE_ARRAYS, type SampleArray, type SampleType, sampleTypeOf } from "./samples";

/** Sample type per "sampleFormat:bits": unsigned, signed and IEEE float samples. */
const SAMPLE_TYPES: Record<string, SampleType> = {
	"1:8": "uint8",
	"1:16": "uint16",
	"1:32": "uint32",
	"2:8": "int8",
	"2:16": "int16",
	"2:32": "int32",
	"3:32": "float32",
	"3:64": "float64",
};

/** Compressions whose decoded blocks are plain samples in the file's byte order, ready to be sliced. */
const SLICEABLE_COMPRESSIONS = new Set<number>([
	COMPRESSION.none,
	COMPRESSION.lzw,
	COMPRESSION.deflate,
	COMPRESSION.adobeDeflate,
	COMPRESSION.packBits,
	COMPRESSION.zstd,
	COMPRESSION.lerc,
]);

/**
 * Stored bytes of the blocks read at once: enough for the ranged source to merge neighbouring
 * blocks into few reads, little enough to leave the budget to the decoded blocks.
 */
export const READ_GROUP_BYTES = 2 * 1024 * 1024;

/** TIFF Predictor tag values. */
const PREDICTOR = { none: 1, horizontal: 2 } as const;

function compressionOf(image: GeoTIFFImage): number {
	return Number(image.getFileDirectory().getValue("Compression") ?? COMPRESSION.none);
}

/**
 * Refuses a compression, a band's sample type or a YCbCr layout that no reader here decodes,
 * before any block is read. Validate refuses them too, naming the input; here they are refused
 * rather than left to fail inside geotiff.js with an error that does not say the file is at fault.
 */
function checkDecodable(image: GeoTIFFImage, bands: readonly number[]): void {
	const compression = compressionOf(image);
	if (!decodableCompressions.has(compression)) {
		throw new RasterInputError(
			"unsupported-raster",
			`compression ${describeCompression(compression)} is not supported`,
		);
	}
	const directory = image.getFileDirectory();
	if (Number(directory.getValue("PhotometricInterpretation")) === PHOTOMETRIC.ycbcr) {
		const unreadable = ycbcrUnreadable({
			compression,
			planar: image.planarConfiguration === 2,
			bandDataTypes: Array.from({ length: image.getSamplesPerPixel() }, (_, sample) =>
				dataTypeName(image.getSampleFormat(sample), image.getBitsPerSample(sample)),
			),
		});
		if (unreadable)
			throw new RasterInputError("unsupported-raster", `photometric interpretation 6 (YCbCr): ${unreadable}`);
	}
	for (const band of bands) {
		const format = image.getSampleFormat(band - 1);
		const bits = image.getBitsPerSample(band - 1);
		if (!SAMPLE_TYPES[`${format}:${bits}`]) {
			throw new RasterInputError(
				"unsupported-raster",
				`band ${band} holds samples of format ${format} and ${bits} bits, which are not supported`,
			);
		}
	}
}

/** The sample type every band of the image decodes to, when its blocks can be sliced directly. */
function sliceableSampleType(image: GeoTIFFImage): SampleType | null {
	const compression = compressionOf(image);
	if (!SLICEABLE_COMPRESSIONS.has(compression)) return null;
	const types = new Set<string>();
	for (let sample = 0; sample < image.getSamplesPerPixel(); sample++) {
		types.add(`${image.getSampleFormat(sample)}:${image.getBitsPerSample(sample)}`);
	}
	const [type] = types;
	return types.size === 1 && type !== undefined ? (SAMPLE_TYPES[type] ?? null) : null;
}

/** A pixel window: rows [rowStart, rowEnd) x columns [colStart, colEnd). */
export interface PixelWindow {
	rowStart: number;
	rowEnd: number;
	colStart: number;
	colEnd: number;
}

/**
 * A window of some bands, decoded and held until its samples are copied into the caller's
 * arrays (e.g. views of Wasm memory that must not be held across an await).
 */
export interface DecodedWindow {
	/** The sample type of each band, in the order the bands were asked for. */
	readonly sampleTypes: readonly SampleType[];
	/**
	 * Writes the band at `position` into `destination` row-major, the window's width wide;
	 * `destination` is the band's sample type and the window's pixel count long. Synchronous.
	 */
	copyBand(position: number, destination: SampleArray): void;
	/**
	 * Writes the band at `position` over `box` (rows and columns counted from the window's
	 * top-left pixel, inside it) into `destination`, row-major, the box's width wide: a small part
	 * of the window read straight from the decoded samples, with no copy of the whole window.
	 * Synchronous.
	 */
	copyBox(position: number, box: PixelWindow, destination: SampleArray): void;
	/**
	 * Sets NaN in `output` (the window's pixels, row-major) wherever the band at `position` lies
	 * in a block the file stores empty. Synchronous.
	 */
	maskEmptyBlocks(position: number, output: Float32Array): void;
	/**
	 * The same decoded samples seen as the window's columns [colStart, colEnd) (raster columns,
	 * inside the window): copyBand and maskEmptyBlocks then work on that narrower window. No
	 * block is decoded again.
	 */
	columns(colStart: number, colEnd: number): DecodedWindow;
	/** Whether maskEmptyBlocks has anything to mark for the band at `position`. */
	hasEmptyBlocks(position: number): boolean;
	/**
	 * Frees the decoded samples (of the window and of every view of its columns) for the next
	 * window's blocks to be decoded into; nothing is copied out of the window after this. A
	 * window never released holds its decoder's room until that decoder is dropped.
	 */
	release(): void;
}

/**
 * What a decoded window holds, for {@link viewOf}: a way to copy a band over an area of the
 * window, and each band's areas stored empty (relative to the window).
 */
interface DecodedSamples {
	sampleTypes: readonly SampleType[];
	/** Writes the band over `area` (raster rows and columns, inside the window) into `destination`, the area's width wide. */
	copyArea(position: number, destination: SampleArray, area: PixelWindow): void;
	empty: readonly PixelWindow[][];
	release(): void;
}

/** The DecodedWindow over columns [colStart, colEnd) of a decoded `window`. */
function viewOf(samples: DecodedSamples, window: PixelWindow, colStart: number, colEnd: number): DecodedWindow {
	if (!(window.colStart <= colStart && colStart < colEnd && colEnd <= window.colEnd)) {
		throw new RangeError(`columns ${colStart}-${colEnd} are not inside ${window.colStart}-${window.colEnd}`);
	}
	const width = colEnd - colStart;
	const shift = colStart - window.colStart;
	/** The band's areas stored empty, relative to these columns. */
	const emptyIn = (position: number) =>
		(samples.empty[position] ?? []).flatMap((area) => {
			const from = Math.max(area.colStart - shift, 0);
			const to = Math.min(area.colEnd - shift, width);
			return from < to ? [{ ...area, colStart: from, colEnd: to }] : [];
		});
	const copy = (position: number, destination: SampleArray, area: PixelWindow) => {
		const sampleType = samples.sampleTypes[position];
		if (sampleType === undefined) throw new RangeError(`no band at position ${position}`);
		checkDestination(destination, sampleType, (area.rowEnd - area.rowStart) * (area.colEnd - area.colStart));
		samples.copyArea(position, destination, area);
	};
	return {
		sampleTypes: samples.sampleTypes,
		copyBand(position, destination) {
			copy(position, destination, { rowStart: window.rowStart, rowEnd: window.rowEnd, colStart, colEnd });
		},
		copyBox(position, box, destination) {
			if (!(0 <= box.colStart && box.colStart < box.colEnd && box.colEnd <= width)) {
				throw new RangeError(`box columns ${box.colStart}-${box.colEnd} are not inside 0-${width}`);
			}
			if (!(0 <= box.rowStart && box.rowStart < box.rowEnd && box.rowEnd <= window.rowEnd - window.rowStart)) {
				throw new RangeError(`box rows ${box.rowStart}-${box.rowEnd} are not inside the window's`);
			}
			copy(position, destination, {
				rowStart: window.rowStart + box.rowStart,
				rowEnd: window.rowStart + box.rowEnd,
				colStart: colStart + box.colStart,
				colEnd: colStart + box.colEnd,
			});
		},
		maskEmptyBlocks(position, output) {
			maskAreas(output, width, emptyIn(position));
		},
		hasEmptyBlocks(position) {
			return emptyIn(position).length > 0;
		},
		columns(start, end) {
			return viewOf(samples, window, start, end);
		},
		release() {
			samples.release();
		},
	};
}

/** Where each block of the file is stored and how many bytes it takes. */
interface BlockTable {
	/** The block at (blockX, blockY) of `plane` (0 unless the file is planar), in the arrays' order: plane after plane. */
	index(plane: number, blockX: number, blockY: number): number;
	offsets: ArrayLike<number | bigint>;
	byteCounts: ArrayLike<number | bigint>;
}

/**
 * The file's block offsets and byte counts, each array taken once for a window: asked for block
 * by block (an await each), a window over a scene in one-row strips spent about 10 µs a strip on
 * them (bench:scene --stripped).
 */
async function blockTable(image: GeoTIFFImage): Promise<BlockTable> {
	const directory = image.getFileDirectory();
	const [offsets, byteCounts] = await Promise.all([
		directory.loadValue(image.isTiled ? "TileOffsets" : "StripOffsets"),
		directory.loadValue(image.isTiled ? "TileByteCounts" : "StripByteCounts"),
	]);
	const across = Math.ceil(image.getWidth() / image.getTileWidth());
	const down = Math.ceil(image.getHeight() / image.getTileHeight());
	return {
		index: (plane, blockX, blockY) => plane * across * down + blockY * across + blockX,
		// Both are there: the structure check (src/raster/tiff-structure.ts) refused the file without them.
		offsets: offsets as ArrayLike<number | bigint>,
		byteCounts: byteCounts as ArrayLike<number | bigint>,
	};
}

/** The blocks a window overlaps, as [column, row] of the block grid. */
function* blocksIn(window: PixelWindow, blockWidth: number, blockHeight: number): Generator<[number, number]> {
	for (let blockY = Math.floor(window.rowStart / blockHeight); blockY * blockHeight < window.rowEnd; blockY++) {
		for (let blockX = Math.floor(window.colStart / blockWidth); blockX * blockWidth < window.colEnd; blockX++) {
			yield [blockX, blockY];
		}
	}
}

/**
 * The parts of the window (relative to it) that lie in blocks stored empty (byte count 0), for
 * each band asked for. GDAL leaves blocks of nodata unwritten in sparse files, and geotiff.js
 * fills them with the file's nodata value, or 0 without one, which a job's own nodata value
 * would not mark: those pixels are marked in the output instead, whatever value they read as.
 */
function emptyAreas(
	image: GeoTIFFImage,
	{ index, byteCounts }: BlockTable,
	bands: readonly number[],
	window: PixelWindow,
): PixelWindow[][] {
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const planar = image.planarConfiguration === 2;
	const areasOf = (plane: number): PixelWindow[] => {
		const areas: PixelWindow[] = [];
		for (const [blockX, blockY] of blocksIn(window, blockWidth, blockHeight)) {
			if (Number(byteCounts[index(plane, blockX, blockY)]) !== 0) continue;
			areas.push({
				rowStart: Math.max(window.rowStart, blockY * blockHeight) - window.rowStart,
				rowEnd: Math.min(window.rowEnd, (blockY + 1) * blockHeight) - window.rowStart,
				colStart: Math.max(window.colStart, blockX * blockWidth) - window.colStart,
				colEnd: Math.min(window.colEnd, (blockX + 1) * blockWidth) - window.colStart,
			});
		}
		return areas;
	};
	if (!planar) {
		const areas = areasOf(0);
		return bands.map(() => areas);
	}
	return bands.map((band) => areasOf(band - 1));
}

/** Sets NaN over `areas` of `output`, a window `windowWidth` wide. */
function maskAreas(output: Float32Array, windowWidth: number, areas: readonly PixelWindow[]): void {
	for (const { rowStart, rowEnd, colStart, colEnd } of areas) {
		for (let row = rowStart; row < rowEnd; row++) {
			output.fill(Number.NaN, row * windowWidth + colStart, row * windowWidth + colEnd);
		}
	}
}

/**
 * Decodes a window of the given 1-based bands in one pass, so bands of one pixel-interleaved
 * file share each block decode. Every block is decoded (and checked) before this resolves; the
 * rows are copied out only by {@link DecodedWindow.copyBand}.
 */
export async function readWindow(
	image: GeoTIFFImage,
	bands: readonly number[],
	window: PixelWindow,
): Promise<DecodedWindow> {
	checkDecodable(image, bands);
	const sampleType = sliceableSampleType(image);
	if (!sampleType) return readWindowGenerally(image, bands, window);

	const ArrayType = SAMPLE_ARRAYS[sampleType];
	const { rowStart, rowEnd, colStart, colEnd } = window;
	const width = image.getWidth();
	const height = image.getHeight();
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const samplesPerPixel = image.getSamplesPerPixel();
	const planar = image.planarConfiguration === 2;
	const stride = planar ? 1 : samplesPerPixel;
	const directory = image.getFileDirectory();
	const table = await blockTable(image);
	const compression = compressionOf(image);
	const parameters = await blockParameters(directory);
	const differenced = parameters.predictor === PREDICTOR.horizontal;
	const swapped = ArrayType.BYTES_PER_ELEMENT > 1 && image.littleEndian !== HOST_LITTLE_ENDIAN;
	const differencedBlock = {
		rowSamples: blockWidth * stride,
		stride,
		bytesPerSample: ArrayType.BYTES_PER_ELEMENT,
	};
	// Predictor 2 is undone once the samples are in this machine's byte order: by the decoder
	// itself when they already are (in Wasm, for Deflate and LZW), here after swapping otherwise.
	const decoder = await getDecoder(compression, {
		...parameters,
		predictor: differenced ? PREDICTOR.none : parameters.predictor,
		differencing: differenced && !swapped ? differencedBlock : null,
	} as unknown as Parameters<typeof getDecoder>[1]);
	/**
	 * Decodes as the decoder does, then puts the samples in this machine's order. Only blocks
	 * geotiff.js decodes pass here: it fills a block stored empty (byte count 0) itself, already
	 * in this machine's order and not differenced (and such blocks are masked; see emptyAreas).
	 */
	const hostOrderDecoder = {
		async decode(stored: ArrayBuffer): Promise<ArrayBuffer> {
			const buffer = (await decoder.decode(stored)) as ArrayBuffer;
			if (swapped) {
				reverseSampleBytes(buffer, ArrayType.BYTES_PER_ELEMENT);
				if (differenced) undoHorizontalDifferencing(buffer, differencedBlock);
			}
			return buffer;
		},
	} as unknown as typeof decoder;

	/**
	 * One decoded block, or the part of it inside the window: its samples (every band's, unless
	 * planar), seen afresh on each call (a kept block's memory may have moved since it was
	 * decoded), rows [y0, y1) and columns [x0, x1) of the raster, `rowPixels` pixels to a row.
	 */
	interface Block {
		values(): SampleArray;
		x0: number;
		x1: number;
		y0: number;
		y1: number;
		rowPixels: number;
	}
	// From a ranged source, EO Edge's decoders are handed a view of the stored bytes where
	// geotiff.js's getTileOrStrip would copy them; blocks stored empty still go through it.
	const views = image.source instanceof RangedSource && takesStoredViews(decoder) ? image.source : null;
	// Blocks already in this machine's order stay where their codec decoded them (Wasm memory)
	// until the window is released: no buffer of their own each, no collection to free them.
	const keeping = views && !swapped ? keepingDecoder(decoder) : null;
	const kept: DecodedBlock[] = [];
	let released = false;
	const freeKept = () => {
		released = true;
		for (const block of kept.splice(0)) block.free();
	};
	/**
	 * The block's decoded bytes: kept where its codec decoded them when `keep` allows it (they
	 * are then a view of that memory, seen afresh on each call), else a buffer of their own.
	 */
	const decodeStored = async (
		{ blockX, blockY, plane, stored: slice }: StoredBlock,
		keep: boolean,
	): Promise<{ bytes: () => Uint8Array | ArrayBuffer; kept: DecodedBlock | null }> => {
		let data: ArrayBufferLike;
		if (!views || slice.length === 0) {
			data = (await image.getTileOrStrip(blockX, blockY, plane, hostOrderDecoder)).data;
		} else {
			const stored = await views.bytes(slice);
			if (keeping && keep) {
				const block = keeping.decodeKept(stored);
				kept.push(block);
				return { bytes: () => block.bytes(), kept: block };
			}
			data = await hostOrderDecoder.decode(stored as unknown as ArrayBuffer);
		}
		return { bytes: () => data as ArrayBuffer, kept: null };
	};
	const decodeBlock = async (block: StoredBlock): Promise<Block> => {
		const { blockX, blockY } = block;
		const blockX0 = blockX * blockWidth;
		const blockY0 = blockY * blockHeight;
		const x0 = Math.max(colStart, blockX0);
		const x1 = Math.min(colEnd, blockX0 + blockWidth, width);
		const y0 = Math.max(rowStart, blockY0);
		const y1 = Math.min(rowEnd, blockY0 + blockHeight, height);
		// A block reaching past the window (a strip across a narrower window, a tile across a
		// window edge) is not kept: only the part inside is, so a window holds no more than its
		// pixels.
		const inside =
			blockX0 >= colStart &&
			Math.min(blockX0 + blockWidth, width) <= colEnd &&
			blockY0 >= rowStart &&
			Math.min(blockY0 + blockHeight, height) <= rowEnd;
		const decoded = await decodeStored(block, inside);
		const values = () => {
			const bytes = decoded.bytes();
			return bytes instanceof Uint8Array
				? new ArrayType(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / ArrayType.BYTES_PER_ELEMENT)
				: new ArrayType(bytes);
		};
		const { byteLength } = decoded.bytes();
		// A corrupt block can decode short: refused, rather than read as zeros or half a sample.
		// The window's last row of the block is read up to its last column, which lies
		// `x1 - blockX0` pixels into the row.
		const needed = ((y1 - 1 - blockY0) * blockWidth + (x1 - blockX0)) * stride * ArrayType.BYTES_PER_ELEMENT;
		if (byteLength < needed || byteLength % ArrayType.BYTES_PER_ELEMENT !== 0) {
			throw new RasterInputError(
				"invalid-raster",
				`block (${blockX}, ${blockY}) decodes to ${byteLength} bytes; the rows read from it need ${needed}`,
			);
		}
		if (inside) {
			if (decoded.kept) return { values, x0: blockX0, x1, y0: blockY0, y1, rowPixels: blockWidth };
			const array = values();
			return { values: () => array, x0: blockX0, x1, y0: blockY0, y1, rowPixels: blockWidth };
		}
		const rowPixels = x1 - x0;
		const part = new ArrayType((y1 - y0) * rowPixels * stride);
		copyRows(
			values(),
			((y0 - blockY0) * blockWidth + (x0 - blockX0)) * stride,
			blockWidth * stride,
			part,
			0,
			rowPixels * stride,
			y1 - y0,
			rowPixels * stride,
			1,
		);
		return { values: () => part, x0, x1, y0, y1, rowPixels };
	};

	// Planar files hold one block per band; interleaved ones one block for all bands.
	const planes = planar ? bands.map((band) => band - 1) : [0];
	const wanted = storedBlocks(image, table, planes, window);
	const blocks: Block[][] = planes.map(() => []);
	let empty: PixelWindow[][];
	try {
		for (const group of readGroups(wanted)) {
			// The group's blocks are asked for before anything is awaited, so they find these reads under way.
			views?.prefetch(group.map((block) => block.stored));
			// Every block of the group settles before a failure is passed on, so none is kept unfreed.
			const settled = await Promise.allSettled(group.map(decodeBlock));
			for (const [i, { position }] of group.entries()) {
				const outcome = settled[i];
				if (outcome?.status === "rejected") throw outcome.reason;
				if (outcome) blocks[position]?.push(outcome.value);
			}
		}
		empty = emptyAreas(image, table, bands, window);
	} catch (error) {
		freeKept();
		throw error;
	}

	return viewOf(
		{
			sampleTypes: bands.map(() => sampleType),
			empty,
			release: freeKept,
			copyArea(position, destination, area) {
				if (released) throw new Error("the window was released");
				const band = bands[position];
				const bandBlocks = blocks[planar ? position : 0];
				if (band === undefined || !bandBlocks) throw new RangeError(`no band at position ${position}`);
				const offset = planar ? 0 : band - 1;
				const destinationWidth = area.colEnd - area.colStart;
				for (const { values: valuesNow, x0, x1, y0, y1, rowPixels } of bandBlocks) {
					const from0 = Math.max(area.colStart, x0);
					const columns = Math.min(area.colEnd, x1) - from0;
					if (columns <= 0) continue;
					const firstRow = Math.max(area.rowStart, y0);
					copyRows(
						valuesNow(),
						((firstRow - y0) * rowPixels + (from0 - x0)) * stride + offset,
						rowPixels * stride,
						destination,
						(firstRow - area.rowStart) * destinationWidth + (from0 - area.colStart),
						destinationWidth,
						Math.min(area.rowEnd, y1) - firstRow,
						columns,
						stride,
					);
				}
			},
		},
		window,
		colStart,
		colEnd,
	);
}

/** A block a window needs: where it is, which plane, and the bytes the file stores for it. */
interface StoredBlock {
	blockX: number;
	blockY: number;
	/** The sample (plane) of a planar file, else 0. */
	plane: number;
	/** Index of the plane among those read, where its decoded block goes. */
	position: number;
	/** Where the file stores the block; a length of 0 is a block stored empty. */
	stored: { offset: number; length: number };
}

/** The blocks of each plane a window overlaps, plane by plane, with their stored sizes. */
function storedBlocks(
	image: GeoTIFFImage,
	{ index, offsets, byteCounts }: BlockTable,
	planes: readonly number[],
	window: PixelWindow,
): StoredBlock[] {
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const blocks: StoredBlock[] = [];
	for (const [position, plane] of planes.entries()) {
		for (const [blockX, blockY] of blocksIn(window, blockWidth, blockHeight)) {
			const at = index(plane, blockX, blockY);
			const stored = { offset: Number(offsets[at]), length: Number(byteCounts[at]) };
			blocks.push({ blockX, blockY, plane, position, stored });
		}
	}
	return blocks;
}

/**
 * Blocks in groups of at most READ_GROUP_BYTES stored (a larger block alone): each group is
 * asked for at once, so the ranged source merges its neighbouring blocks into one read.
 */
function* readGroups(blocks: readonly StoredBlock[]): Generator<StoredBlock[]> {
	let group: StoredBlock[] = [];
	let bytes = 0;
	for (const block of blocks) {
		if (group.length > 0 && bytes + block.stored.length > READ_GROUP_BYTES) {
			yield group;
			group = [];
			bytes = 0;
		}
		group.push(block);
		bytes += block.stored.length;
	}
	if (group.length > 0) yield group;
}

function checkDestination(destination: SampleArray, sampleType: SampleType, pixels: number): void {
	if (sampleTypeOf(destination) !== sampleType || destination.length !== pixels) {
		throw new RangeError(`destination must be ${pixels} ${sampleType} samples`);
	}
}

/** readRasters decodes into arrays of its own, copied into the caller's on request. */
async function readWindowGenerally(
	image: GeoTIFFImage,
	bands: readonly number[],
	window: PixelWindow,
): Promise<DecodedWindow> {
	const { rowStart, rowEnd, colStart, colEnd } = window;
	let rasters: Awaited<ReturnType<GeoTIFFImage["readRasters"]>>;
	try {
		rasters = await image.readRasters({
			window: [colStart, rowStart, colEnd, rowEnd],
			samples: bands.map((band) => band - 1),
			interleave: false,
		});
	} catch (error) {
		// readRasters reads each decoded block with a DataView over the rows its tags promise: a
		// block that decodes to fewer (a JPEG frame smaller than its tile, say) runs past its end.
		if (error instanceof RangeError) {
			throw new RasterInputError("invalid-raster", "a block decodes to less than the file's layout says it holds");
		}
		throw error;
	}
	const decoded: TypedArray[] = bands.map((band, position) => {
		const data = rasters[position];
		if (!data) throw new Error(`band ${band} was not decoded`);
		return data;
	});
	const sampleTypes = decoded.map(sampleTypeOf);
	const empty = emptyAreas(image, await blockTable(image), bands, window);
	const windowWidth = colEnd - colStart;
	return viewOf(
		{
			sampleTypes,
			empty,
			// readRasters' arrays are the runtime's to collect.
			release() {},
			copyArea(position, destination, area) {
				const data = decoded[position];
				if (!data) throw new RangeError(`no band at position ${position}`);
				if (
					area.colStart === colStart &&
					area.colEnd === colEnd &&
					area.rowStart === rowStart &&
					area.rowEnd === rowEnd
				) {
					destination.set(data as ArrayLike<number>);
					return;
				}
				const columns = area.colEnd - area.colStart;
				copyRows(
					data as SampleArray,
					(area.rowStart - rowStart) * windowWidth + (area.colStart - colStart),
					windowWidth,
					destination,
					0,
					columns,
					area.rowEnd - area.rowStart,
					columns,
					1,
				);
			},
		},
		window,
		colStart,
		colEnd,
	);
}
