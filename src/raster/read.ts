/**
 * Reads windows (rows x columns) of chosen bands, the only pixel reads compute makes.
 *
 * geotiff.js's readRasters copies every pixel through a DataView call, which costs more than
 * decoding. For the layouts archives use (whole-byte integer or float samples, stored in this
 * machine's byte order), blocks are decoded through geotiff.js and their rows copied into the
 * window as typed-array slices; every other layout goes through readRasters.
 */
import { type GeoTIFFImage, getDecoder, type TypedArray } from "geotiff";
import { blockParameters, COMPRESSION } from "./decoders";

type TypedArrayConstructor = (new (
	lengthOrBuffer: number | ArrayBufferLike,
) => TypedArray) & {
	readonly BYTES_PER_ELEMENT: number;
};

/** Array type per "sampleFormat:bits": unsigned, signed and IEEE float samples. */
const SAMPLE_ARRAYS: Record<string, TypedArrayConstructor> = {
	"1:8": Uint8Array,
	"1:16": Uint16Array,
	"1:32": Uint32Array,
	"2:8": Int8Array,
	"2:16": Int16Array,
	"2:32": Int32Array,
	"3:32": Float32Array,
	"3:64": Float64Array,
};

/** Compressions whose decoded blocks are plain samples, ready to be sliced. */
const SLICEABLE_COMPRESSIONS = new Set<number>([
	COMPRESSION.none,
	COMPRESSION.lzw,
	COMPRESSION.deflate,
	COMPRESSION.adobeDeflate,
	COMPRESSION.packBits,
	COMPRESSION.zstd,
	COMPRESSION.lerc,
]);

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The array type every band of the image decodes to, when its blocks can be sliced directly. */
function sliceableArrayType(image: GeoTIFFImage): TypedArrayConstructor | null {
	const compression = Number(image.getFileDirectory().getValue("Compression") ?? COMPRESSION.none);
	if (!SLICEABLE_COMPRESSIONS.has(compression)) return null;
	const types = new Set<string>();
	for (let sample = 0; sample < image.getSamplesPerPixel(); sample++) {
		types.add(`${image.getSampleFormat(sample)}:${image.getBitsPerSample(sample)}`);
	}
	const [type] = types;
	const ArrayType = types.size === 1 && type !== undefined ? SAMPLE_ARRAYS[type] : undefined;
	if (!ArrayType) return null;
	const byteSized = image.getBitsPerSample(0) === 8;
	return byteSized || image.littleEndian === HOST_LITTLE_ENDIAN ? ArrayType : null;
}

/** A pixel window: rows [rowStart, rowEnd) x columns [colStart, colEnd). */
export interface PixelWindow {
	rowStart: number;
	rowEnd: number;
	colStart: number;
	colEnd: number;
}

/**
 * Decodes a window of the given 1-based bands in one pass, so bands of one pixel-interleaved
 * file share each block decode. Each band comes back row-major, the window's width wide.
 */
export async function readWindow(
	image: GeoTIFFImage,
	bands: readonly number[],
	window: PixelWindow,
): Promise<TypedArray[]> {
	const ArrayType = sliceableArrayType(image);
	if (!ArrayType) return readWindowGenerally(image, bands, window);

	const { rowStart, rowEnd, colStart, colEnd } = window;
	const windowWidth = colEnd - colStart;
	const width = image.getWidth();
	const height = image.getHeight();
	const blockWidth = image.getTileWidth();
	const blockHeight = image.getTileHeight();
	const samplesPerPixel = image.getSamplesPerPixel();
	const planar = image.planarConfiguration === 2;
	const directory = image.getFileDirectory();
	const compression = Number(directory.getValue("Compression") ?? COMPRESSION.none);
	const decoder = await getDecoder(
		compression,
		(await blockParameters(directory)) as unknown as Parameters<typeof getDecoder>[1],
	);
	const outputs = bands.map(() => new ArrayType(windowWidth * (rowEnd - rowStart)));

	/** Copies one decoded block's rows of `sample` that fall in the window into `out`. */
	const copyBlock = (data: ArrayBufferLike, blockX: number, blockY: number, sample: number, out: TypedArray) => {
		const stride = planar ? 1 : samplesPerPixel;
		const offset = planar ? 0 : sample;
		const blockX0 = blockX * blockWidth;
		const x0 = Math.max(colStart, blockX0);
		const columns = Math.min(blockX0 + blockWidth, width, colEnd) - x0;
		const firstRow = Math.max(rowStart, blockY * blockHeight);
		const lastRow = Math.min(rowEnd, (blockY + 1) * blockHeight, height);
		// A corrupt block can decode short: refused, rather than read as zeros or half a sample.
		const needed = ((lastRow - 1 - blockY * blockHeight) * blockWidth + columns) * stride * ArrayType.BYTES_PER_ELEMENT;
		if (data.byteLength < needed || data.byteLength % ArrayType.BYTES_PER_ELEMENT !== 0) {
			throw new Error(`block (${blockX}, ${blockY}) decodes to ${data.byteLength} bytes; its rows need ${needed}`);
		}
		const values = new ArrayType(data);
		for (let row = firstRow; row < lastRow; row++) {
			const from = (row - blockY * blockHeight) * blockWidth + (x0 - blockX0);
			const to = (row - rowStart) * windowWidth + (x0 - colStart);
			if (stride === 1) {
				out.set(values.subarray(from, from + columns), to);
			} else {
				for (let column = 0; column < columns; column++) {
					out[to + column] = values[(from + column) * stride + offset] as number;
				}
			}
		}
	};

	const reads: Promise<void>[] = [];
	for (let blockY = Math.floor(rowStart / blockHeight); blockY * blockHeight < rowEnd; blockY++) {
		for (let blockX = Math.floor(colStart / blockWidth); blockX * blockWidth < colEnd; blockX++) {
			if (planar) {
				bands.forEach((band, position) => {
					reads.push(
						image.getTileOrStrip(blockX, blockY, band - 1, decoder).then(({ data }) => {
							copyBlock(data, blockX, blockY, band - 1, outputs[position] as TypedArray);
						}),
					);
				});
			} else {
				reads.push(
					image.getTileOrStrip(blockX, blockY, 0, decoder).then(({ data }) => {
						bands.forEach((band, position) => {
							copyBlock(data, blockX, blockY, band - 1, outputs[position] as TypedArray);
						});
					}),
				);
			}
		}
	}
	await Promise.all(reads);
	return outputs;
}

async function readWindowGenerally(
	image: GeoTIFFImage,
	bands: readonly number[],
	{ rowStart, rowEnd, colStart, colEnd }: PixelWindow,
): Promise<TypedArray[]> {
	const rasters = await image.readRasters({
		window: [colStart, rowStart, colEnd, rowEnd],
		samples: bands.map((band) => band - 1),
		interleave: false,
	});
	return bands.map((band, position) => {
		const data = rasters[position];
		if (!data) throw new Error(`band ${band} was not decoded`);
		return data;
	});
}
