/**
 * Reads windows (rows x columns) of chosen bands, the only pixel reads compute makes.
 *
 * geotiff.js's readRasters copies every pixel through a DataView call, which costs more than
 * decoding. For the layouts archives use (whole-byte integer or float samples, one type for
 * every band), blocks are decoded through geotiff.js's decoders, brought to this machine's byte
 * order with predictor 2 undone (by the decoder, or here with src/raster/block-samples.ts), and
 * their rows copied into the caller's arrays as typed-array slices; every other layout goes
 * through readRasters.
 */
import { type GeoTIFFImage, getDecoder, type TypedArray } from "geotiff";
import { HOST_LITTLE_ENDIAN, reverseSampleBytes, undoHorizontalDifferencing } from "./block-samples";
import { blockParameters, COMPRESSION, decodableCompressions, describeCompression } from "./decoders";
import { RasterInputError } from "./input-errors";
import { SAMPLE_ARRAYS, type SampleArray, type SampleType, sampleTypeOf } from "./samples";

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

/** TIFF Predictor tag values. */
const PREDICTOR = { none: 1, horizontal: 2 } as const;

function compressionOf(image: GeoTIFFImage): number {
	return Number(image.getFileDirectory().getValue("Compression") ?? COMPRESSION.none);
}

/**
 * Refuses a compression or a band's sample type that no reader here decodes, before any block
 * is read. Validate refuses them too, naming the input; here they are refused rather than left
 * to fail inside geotiff.js with an error that does not say the file is at fault.
 */
function checkDecodable(image: GeoTIFFImage, bands: readonly number[]): void {
	const compression = compressionOf(image);
	if (!decodableCompressions.has(compression)) {
		throw new RasterInputError(
			"unsupported-raster",
			`compression ${describeCompression(compression)} is not supported`,
		);
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
	 * Sets NaN in `output` (the window's pixels, row-major) wherever the band at `position` lies
	 * in a block the file stores empty. Synchronous.
	 */
	maskEmptyBlocks(position: number, output: Float32Array): void;
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
async function emptyAreas(
	image: GeoTIFFImage,
	bands: readonly number[],
	window: PixelWindow,
): Promise<PixelWindow[][]> {
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const across = Math.ceil(image.getWidth() / blockWidth);
	const down = Math.ceil(image.getHeight() / blockHeight);
	const byteCounts = image.isTiled ? "TileByteCounts" : "StripByteCounts";
	const planar = image.planarConfiguration === 2;
	const areasOf = async (plane: number): Promise<PixelWindow[]> => {
		const areas: PixelWindow[] = [];
		for (const [blockX, blockY] of blocksIn(window, blockWidth, blockHeight)) {
			const index = plane * across * down + blockY * across + blockX;
			if (Number(await image.getFileDirectory().loadValueIndexed(byteCounts, index)) !== 0) continue;
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
		const areas = await areasOf(0);
		return bands.map(() => areas);
	}
	return Promise.all(bands.map((band) => areasOf(band - 1)));
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
	const windowWidth = colEnd - colStart;
	const windowPixels = windowWidth * (rowEnd - rowStart);
	const width = image.getWidth();
	const height = image.getHeight();
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const samplesPerPixel = image.getSamplesPerPixel();
	const planar = image.planarConfiguration === 2;
	const stride = planar ? 1 : samplesPerPixel;
	const directory = image.getFileDirectory();
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

	/** One decoded block: its position, and its samples (every band's, unless planar). */
	interface Block {
		blockX: number;
		blockY: number;
		values: SampleArray;
	}
	/** The columns and rows of a block that fall in the window. */
	const spanOf = (blockX: number, blockY: number) => {
		const blockX0 = blockX * blockWidth;
		const x0 = Math.max(colStart, blockX0);
		return {
			blockX0,
			x0,
			columns: Math.min(blockX0 + blockWidth, width, colEnd) - x0,
			firstRow: Math.max(rowStart, blockY * blockHeight),
			lastRow: Math.min(rowEnd, (blockY + 1) * blockHeight, height),
		};
	};
	const decodeBlock = async (blockX: number, blockY: number, sample: number): Promise<Block> => {
		const { data } = await image.getTileOrStrip(blockX, blockY, sample, hostOrderDecoder);
		const { blockX0, x0, columns, lastRow } = spanOf(blockX, blockY);
		// A corrupt block can decode short: refused, rather than read as zeros or half a sample.
		// copyBand reads the window's last row of the block up to its last column, which lies
		// `x0 - blockX0` samples into the row when the window starts inside the block.
		const lastRowEnd = (lastRow - 1 - blockY * blockHeight) * blockWidth + (x0 - blockX0) + columns;
		const needed = lastRowEnd * stride * ArrayType.BYTES_PER_ELEMENT;
		if (data.byteLength < needed || data.byteLength % ArrayType.BYTES_PER_ELEMENT !== 0) {
			throw new RasterInputError(
				"invalid-raster",
				`block (${blockX}, ${blockY}) decodes to ${data.byteLength} bytes; the rows read from it need ${needed}`,
			);
		}
		return { blockX, blockY, values: new ArrayType(data as ArrayBuffer) };
	};

	// Planar files hold one block per band; interleaved ones one block for all bands.
	const reads: Promise<Block>[][] = planar ? bands.map(() => []) : [[]];
	for (const [blockX, blockY] of blocksIn(window, blockWidth, blockHeight)) {
		if (planar) {
			for (const [position, band] of bands.entries()) reads[position]?.push(decodeBlock(blockX, blockY, band - 1));
		} else {
			reads[0]?.push(decodeBlock(blockX, blockY, 0));
		}
	}
	const blocks = await Promise.all(reads.map((bandReads) => Promise.all(bandReads)));
	const empty = await emptyAreas(image, bands, window);

	return {
		sampleTypes: bands.map(() => sampleType),
		maskEmptyBlocks(position, output) {
			maskAreas(output, windowWidth, empty[position] ?? []);
		},
		copyBand(position, destination) {
			checkDestination(destination, sampleType, windowPixels);
			const band = bands[position];
			const bandBlocks = blocks[planar ? position : 0];
			if (band === undefined || !bandBlocks) throw new RangeError(`no band at position ${position}`);
			const offset = planar ? 0 : band - 1;
			for (const { blockX, blockY, values } of bandBlocks) {
				const { blockX0, x0, columns, firstRow, lastRow } = spanOf(blockX, blockY);
				for (let row = firstRow; row < lastRow; row++) {
					const from = (row - blockY * blockHeight) * blockWidth + (x0 - blockX0);
					const to = (row - rowStart) * windowWidth + (x0 - colStart);
					if (stride === 1) {
						destination.set(values.subarray(from, from + columns), to);
					} else {
						for (let column = 0; column < columns; column++) {
							destination[to + column] = values[(from + column) * stride + offset] as number;
						}
					}
				}
			}
		},
	};
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
	const rasters = await image.readRasters({
		window: [colStart, rowStart, colEnd, rowEnd],
		samples: bands.map((band) => band - 1),
		interleave: false,
	});
	const decoded: TypedArray[] = bands.map((band, position) => {
		const data = rasters[position];
		if (!data) throw new Error(`band ${band} was not decoded`);
		return data;
	});
	const sampleTypes = decoded.map(sampleTypeOf);
	const empty = await emptyAreas(image, bands, window);
	return {
		sampleTypes,
		maskEmptyBlocks(position, output) {
			maskAreas(output, colEnd - colStart, empty[position] ?? []);
		},
		copyBand(position, destination) {
			const data = decoded[position];
			const sampleType = sampleTypes[position];
			if (!data || !sampleType) throw new RangeError(`no band at position ${position}`);
			checkDestination(destination, sampleType, data.length);
			destination.set(data);
		},
	};
}
