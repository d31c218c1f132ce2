/**
 * The TIFF decoders EO Edge plugs into geotiff.js, so that every compression a real archive
 * uses decodes inside a Worker and fast enough for whole scenes:
 * - Deflate and LZW through EO Edge's own Wasm decoders (wasm/assembly/decode.ts), which
 *   measure faster than the runtime's zlib and than a TypeScript LZW decoder
 *   (`npm run bench:decode`).
 * - ZSTD, and LERC with its optional Deflate or ZSTD layer, through a Zstandard decoder that
 *   was compiled ahead of time: geotiff.js's own ZSTD and LERC decoders compile Wasm from
 *   bytes, which Workers forbid.
 * - PackBits into a block-sized buffer, where geotiff.js's decoder grows without bound.
 * - JPEG: markers and coefficients through geotiff.js's decoder, once the block's frame header
 *   has been checked against the block (that decoder sizes its buffers from the frame header
 *   alone), then the inverse DCT, upsampling and YCbCr to RGB as libjpeg does them for GDAL
 *   (src/raster/jpeg.ts).
 * Every decoder here writes at most a block's decoded size, so a hostile block cannot make it
 * allocate more. Uncompressed blocks are passed on as stored, but refused, as every block here
 * is, when a predictor is to be undone on a partial row. Predictor 3 is applied by
 * geotiff.js's BaseDecoder after every decoder here, and so is predictor 2 on readRasters'
 * path. The window reader (src/raster/read.ts) asks for blocks without geotiff.js's predictor 2:
 * it either has the decoder undo it (`differencing`, for samples already in this machine's
 * byte order: in Wasm, before the block leaves Wasm memory) or undoes it itself, once the
 * samples are in this machine's byte order.
 */
import { addDecoder, BaseDecoder, getDecoder, type ImageFileDirectory } from "geotiff";
import Lerc from "lerc";
import { checkWholeRows, type DifferencedBlock } from "./block-samples";
import { RasterInputError } from "./input-errors";
import { jpegPixels, type ParsedJpeg } from "./jpeg";
import { maxStoredBlockBytes } from "./tiff-structure";

/** TIFF Compression tag values. */
export const COMPRESSION = {
	none: 1,
	lzw: 5,
	jpeg: 7,
	deflate: 8,
	packBits: 32773,
	adobeDeflate: 32946,
	lerc: 34887,
	zstd: 50000,
} as const;

/** Compressions that decode inside a Worker once {@link installDecoders} has run, by name. */
export const decodableCompressions = new Map<number, string>([
	[COMPRESSION.none, "none"],
	[COMPRESSION.lzw, "LZW"],
	[COMPRESSION.jpeg, "JPEG"],
	[COMPRESSION.deflate, "Deflate"],
	[COMPRESSION.packBits, "PackBits"],
	[COMPRESSION.adobeDeflate, "Deflate"],
	[COMPRESSION.lerc, "LERC"],
	[COMPRESSION.zstd, "ZSTD"],
]);

/** Names of the TIFF compressions a client may meet but EO Edge does not decode, for its problems. */
const UNDECODABLE_COMPRESSIONS = new Map<number, string>([
	[2, "CCITT RLE"],
	[3, "CCITT Group 3"],
	[4, "CCITT Group 4"],
	[6, "old-style JPEG"],
	[32809, "ThunderScan"],
	[34661, "JBIG"],
	[34676, "SGI LogLuv"],
	[34677, "SGI LogLuv 24"],
	[34712, "JPEG 2000"],
	[34892, "lossy JPEG (DNG)"],
	[34925, "LZMA"],
	[50001, "WebP"],
	[50002, "JPEG XL"],
]);

/** "34712 (JPEG 2000)", or the bare code when it names no compression EO Edge knows. */
export function describeCompression(code: number): string {
	const name = decodableCompressions.get(code) ?? UNDECODABLE_COMPRESSIONS.get(code);
	return name ? `${code} (${name})` : `${code} (unknown)`;
}

/**
 * A decoded block and its owner's handle on it: `bytes()` may be a view of a decoder's memory
 * (valid until `free()`, and taken again after any other decode, which may move that memory);
 * `free()` gives the room back, after which the bytes are not read again.
 */
export interface DecodedBlock {
	bytes(): Uint8Array;
	free(): void;
}

/**
 * Inflates a zlib stream into at most `maxBytes`, refusing a stream that inflates further; with
 * `differencing`, undoes predictor 2 on the result (refusing one that is not whole rows).
 */
export type Inflate = (input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null) => DecodedBlock;

/** Decodes TIFF LZW into at most `maxBytes` (shorter if the codes end first); `differencing` as for {@link Inflate}. */
export type LzwDecode = (input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null) => DecodedBlock;

/**
 * Decodes one Zstandard frame into at most `maxBytes`: with `exact`, `maxBytes` is the output's
 * capacity (a block's decoded size); without it, the frame must state its decoded size, at most
 * `maxBytes`. `differencing` as for {@link Inflate}.
 */
export type ZstdBlockDecode = (
	input: Uint8Array,
	maxBytes: number,
	exact?: boolean,
	differencing?: DifferencedBlock | null,
) => DecodedBlock;

export interface Codecs {
	inflate: Inflate;
	lzw: LzwDecode;
	zstd: ZstdBlockDecode;
	/**
	 * Undoes predictor 2 on a block of whole rows another decoder wrote: the result is in a
	 * buffer of its own, exactly its length (the block itself, when it is one).
	 */
	undoDifferencing(bytes: Uint8Array, differencing: DifferencedBlock): Uint8Array;
}

/** What geotiff.js passes every decoder, plus the decoded size of a full block. */
export interface BlockParameters {
	tileWidth: number;
	tileHeight: number;
	planarConfiguration: number;
	bitsPerSample: number[];
	predictor: number;
	/** Bytes of one decoded block (one sample's plane when planar). */
	blockBytes: number;
	/** Samples each pixel of a block holds: all of them, or one when planar. */
	samplesPerBlock: number;
	/** LERC version and additional compression (GDAL's LercParameters tag). */
	lercParameters: number[] | null;
	/** The quantization and Huffman tables JPEG blocks share (the JPEGTables tag). */
	jpegTables: Uint8Array | null;
	/** The PhotometricInterpretation tag; null when the file has none. */
	photometric: number | null;
	/**
	 * Predictor 2 for the decoder to undo on every block, when the window reader asks for it
	 * (the samples are then in this machine's byte order and `predictor` is 1); otherwise null.
	 */
	differencing: DifferencedBlock | null;
}

/** TIFF PhotometricInterpretation tag values. */
export const PHOTOMETRIC = { minIsWhite: 0, minIsBlack: 1, rgb: 2, ycbcr: 6 } as const;

function numbersOf(value: unknown): number[] {
	if (typeof value === "number") return [value];
	if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<number>, Number);
	return [];
}

/** Reads a block's layout from the directory, as geotiff.js's default does, plus its size. */
export async function blockParameters(directory: ImageFileDirectory): Promise<BlockParameters> {
	const tiled = !directory.hasTag("StripOffsets");
	const imageHeight = Number(await directory.loadValue("ImageLength"));
	const tileWidth = Number(await directory.loadValue(tiled ? "TileWidth" : "ImageWidth"));
	// Writers may state RowsPerStrip as 2^32-1 for "one strip"; a block never exceeds the image.
	const tileHeight = tiled
		? Number(await directory.loadValue("TileLength"))
		: Math.min(Number((await directory.loadValue("RowsPerStrip")) || imageHeight), imageHeight);
	const planarConfiguration = Number((await directory.loadValue("PlanarConfiguration")) ?? 1);
	const bitsPerSample = numbersOf(await directory.loadValue("BitsPerSample"));
	const pixelBits = planarConfiguration === 2 ? (bitsPerSample[0] ?? 8) : bitsPerSample.reduce((a, b) => a + b, 0);
	return {
		tileWidth,
		tileHeight,
		planarConfiguration,
		bitsPerSample,
		predictor: Number((await directory.loadValue("Predictor")) || 1),
		blockBytes: Math.ceil((tileWidth * pixelBits) / 8) * tileHeight,
		samplesPerBlock: planarConfiguration === 2 ? 1 : bitsPerSample.length,
		lercParameters: directory.hasTag("LercParameters") ? numbersOf(await directory.loadValue("LercParameters")) : null,
		jpegTables: directory.hasTag("JPEGTables")
			? new Uint8Array(numbersOf(await directory.loadValue("JPEGTables")))
			: null,
		photometric: directory.hasTag("PhotometricInterpretation")
			? Number(await directory.loadValue("PhotometricInterpretation"))
			: null,
		differencing: null,
	};
}

/**
 * What EO Edge's decoders take: the stored bytes as an ArrayBuffer, as geotiff.js passes them,
 * or as a view (of a ranged read, say), which the window reader passes to spare a copy: see
 * {@link takesStoredViews}.
 */
export type StoredBlock = ArrayBufferLike | Uint8Array;

function storedBytes(buffer: StoredBlock): Uint8Array {
	return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

/** Decoder classes that {@link installDecoders} registered, which take a {@link StoredBlock}. */
const viewTakingDecoders = new WeakSet<object>();

/** Whether `decoder` is one of EO Edge's, so its decode() may be given a view of the stored bytes. */
export function takesStoredViews(decoder: BaseDecoder): boolean {
	return viewTakingDecoders.has(decoder.constructor);
}

/**
 * A decoder that can also hand a block over as the codec decoded it, for its reader to free
 * (the window reader, which keeps a window's blocks where they were decoded): checked as
 * decode() checks it, with predictor 2 undone when the block parameters ask for `differencing`.
 */
export interface KeepingDecoder {
	decodeKept(buffer: StoredBlock): DecodedBlock;
}

/** The decoder as a {@link KeepingDecoder}, or null when its blocks only come as buffers. */
export function keepingDecoder(decoder: BaseDecoder): KeepingDecoder | null {
	return "decodeKept" in decoder ? (decoder as unknown as KeepingDecoder) : null;
}

/** The block's bytes copied into a buffer of their own, the block freed. */
export function copied(block: DecodedBlock): Uint8Array<ArrayBuffer> {
	try {
		return block.bytes().slice();
	} finally {
		block.free();
	}
}

/** The decoded bytes as an ArrayBuffer of exactly their length, as geotiff.js expects. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
	return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
		? (bytes.buffer as ArrayBuffer)
		: (bytes.slice().buffer as ArrayBuffer);
}

/** A block the file stores that does not decode: the file is malformed. */
function corrupt(message: string): never {
	throw new RasterInputError("invalid-raster", message);
}

/** LercParameters' second value: the layer GDAL wraps the LERC blob in. */
const LERC_ADDITIONAL_COMPRESSION = { none: 0, deflate: 1, zstd: 2 } as const;

const LERC2_SIGNATURE = "Lerc2 ";
/** Lerc2 versions whose header states the blob's size, so blobs can be walked unread. */
const LERC2_FIRST_SIZED_VERSION = 3;

/**
 * Walks the Lerc2 blobs of a block before the LERC decoder sees them: it allocates what each
 * header declares, so the blobs together must not hold more values than the block has.
 */
function checkLercBlobs(blob: Uint8Array, block: BlockParameters): void {
	const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
	const allowed = block.tileWidth * block.tileHeight * block.samplesPerBlock;
	let declared = 0;
	for (let at = 0; at < blob.byteLength; ) {
		if (at + 38 > blob.byteLength) corrupt("LERC: a blob header is cut short");
		const signature = String.fromCharCode(...blob.subarray(at, at + LERC2_SIGNATURE.length));
		if (signature !== LERC2_SIGNATURE) corrupt("LERC: the block is not made of Lerc2 blobs");
		const version = view.getInt32(at + 6, true);
		if (version < LERC2_FIRST_SIZED_VERSION) {
			throw new RasterInputError("unsupported-raster", `LERC: Lerc2 version ${version} is not supported`);
		}
		const rows = view.getUint32(at + 14, true);
		const columns = view.getUint32(at + 18, true);
		const dimensions = version >= 4 ? view.getUint32(at + 22, true) : 1;
		const blobSize = view.getInt32(at + (version >= 4 ? 34 : 30), true);
		declared += rows * columns * dimensions;
		if (declared > allowed) corrupt(`LERC: the blobs declare more than the block's ${allowed} values`);
		if (blobSize <= 0 || at + blobSize > blob.byteLength) corrupt("LERC: a blob's size is out of range");
		at += blobSize;
	}
}

/**
 * PackBits (TIFF compression 32773) into at most `maxBytes`: geotiff.js's decoder grows a
 * JavaScript array by 129 bytes per 2 input bytes, without bound.
 */
export function decodePackBits(input: Uint8Array, maxBytes: number): Uint8Array {
	const out = new Uint8Array(maxBytes);
	let length = 0;
	for (let at = 0; at < input.length && length < maxBytes; ) {
		const header = ((input[at] as number) << 24) >> 24;
		if (header >= 0) {
			const run = Math.min(header + 1, input.length - at - 1, maxBytes - length);
			out.set(input.subarray(at + 1, at + 1 + run), length);
			length += run;
			at += header + 2;
		} else if (header !== -128) {
			if (at + 1 >= input.length) break;
			const run = Math.min(1 - header, maxBytes - length);
			out.fill(input[at + 1] as number, length, length + run);
			length += run;
			at += 2;
		} else {
			at += 1;
		}
	}
	return length === maxBytes ? out : out.subarray(0, length);
}

/** JPEG markers that are not frame headers although they sit in the SOF range. */
const JPEG_NON_FRAME_MARKERS = new Set([0xc4, 0xc8, 0xcc]);

/**
 * Reads a JPEG block's markers up to its scan and refuses a frame (SOFn) larger than the block,
 * with more than four components or with sampling factors outside 1-4 (libjpeg's "bogus
 * sampling factors"), before geotiff.js allocates what the frame declares, and a frame whose
 * components' factors do not divide the largest (which libjpeg does not upsample either).
 */
export function checkJpegFrame(
	bytes: Uint8Array,
	block: Pick<BlockParameters, "tileWidth" | "tileHeight">,
	what = "the block",
): void {
	const byte = (at: number) => bytes[at] ?? 0;
	for (let at = 0; at + 1 < bytes.length; ) {
		if (byte(at) !== 0xff) corrupt(`JPEG: no marker at byte ${at} of ${what}`);
		const marker = byte(at + 1);
		if (marker === 0xff) {
			at += 1;
		} else if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
			at += 2;
		} else if (marker === 0xd9 || marker === 0xda) {
			// The end of the image, or the entropy-coded scan, which a frame header must precede.
			return;
		} else {
			if (marker >= 0xc0 && marker <= 0xcf && !JPEG_NON_FRAME_MARKERS.has(marker)) {
				const height = (byte(at + 5) << 8) | byte(at + 6);
				const width = (byte(at + 7) << 8) | byte(at + 8);
				const components = byte(at + 9);
				if (width > block.tileWidth || height > block.tileHeight || components > 4) {
					corrupt(
						`JPEG: the block declares a ${width} x ${height} frame of ${components} components; the block is ${block.tileWidth} x ${block.tileHeight}`,
					);
				}
				checkSamplingFactors(Array.from({ length: components }, (_, i) => byte(at + 11 + 3 * i)));
			}
			at += 2 + ((byte(at + 2) << 8) | byte(at + 3));
		}
	}
}

/** Each component's sampling factors (horizontal in the high nibble), as a frame header gives them. */
function checkSamplingFactors(factors: readonly number[]): void {
	const horizontal = factors.map((factor) => factor >> 4);
	const vertical = factors.map((factor) => factor & 15);
	const described = () => factors.map((factor) => `${factor >> 4} x ${factor & 15}`).join(", ");
	if ([...horizontal, ...vertical].some((factor) => factor < 1 || factor > 4)) {
		corrupt(`JPEG: sampling factors ${described()} are not between 1 and 4`);
	}
	const maxH = Math.max(...horizontal);
	const maxV = Math.max(...vertical);
	if (horizontal.some((h) => maxH % h !== 0) || vertical.some((v) => maxV % v !== 0)) {
		throw new RasterInputError("unsupported-raster", `JPEG: sampling factors ${described()} are not supported`);
	}
}

/** geotiff.js's JPEG reader: it parses a block's markers and decodes its coefficients. */
type JpegReader = ParsedJpeg & { resetFrames(): void; parse(data: Uint8Array): void };
type JpegDecoderWithReader = BaseDecoder & { reader: JpegReader };

/**
 * geotiff.js's own JPEG decoder class, taken from its registry before EO Edge's guard replaces
 * the entry: EO Edge's decoder hands every checked block to its reader.
 */
let geotiffJpegDecoder: Promise<new (parameters: unknown) => BaseDecoder> | null = null;

let installed: Codecs | null = null;

/**
 * Registers the decoders with geotiff.js for the whole isolate. Installing the same codecs
 * again is a no-op; other codecs replace them. The registration is immediate; the promise
 * settles once geotiff.js's JPEG reader is loaded, and the Worker awaits it before reading a
 * file (src/raster/inputs.ts): in workerd, loading it is work of the invocation that installs,
 * and a later invocation must not wait on what an earlier one left unfinished.
 */
export function installDecoders(codecs: Codecs): Promise<void> {
	geotiffJpegDecoder ??= getDecoder(COMPRESSION.jpeg, {} as never).then(
		(decoder) => decoder.constructor as new (parameters: unknown) => BaseDecoder,
	);
	const jpegDecoderClass = geotiffJpegDecoder;
	const ready = jpegDecoderClass.then(() => undefined);
	if (installed === codecs) return ready;
	installed = codecs;

	abstract class SizedDecoder extends BaseDecoder {
		get block(): BlockParameters {
			return this.parameters as unknown as BlockParameters;
		}

		/**
		 * The decoded block for geotiff.js, refused if a predictor is to be undone on a partial
		 * row, with predictor 2 undone unless the codec has done it (`undone`).
		 */
		output(bytes: Uint8Array, undone = false): ArrayBuffer {
			const { differencing } = this.block;
			this.checkRows(bytes.byteLength);
			return ownBuffer(differencing && !undone ? codecs.undoDifferencing(bytes, differencing) : bytes);
		}

		checkRows(byteLength: number): void {
			const { predictor, blockBytes, tileHeight, differencing } = this.block;
			if (predictor !== 1 || differencing) checkWholeRows(byteLength, blockBytes / tileHeight);
		}
	}
	/** A decoder whose codec decodes into a block to free, with predictor 2 undone by the codec. */
	abstract class CodecDecoder extends SizedDecoder implements KeepingDecoder {
		abstract decodeWithCodec(stored: Uint8Array): DecodedBlock;

		decodeKept(buffer: StoredBlock): DecodedBlock {
			const block = this.decodeWithCodec(storedBytes(buffer));
			try {
				this.checkRows(block.bytes().byteLength);
			} catch (error) {
				block.free();
				throw error;
			}
			return block;
		}

		override decodeBlock(buffer: StoredBlock): ArrayBufferLike {
			return this.output(copied(this.decodeWithCodec(storedBytes(buffer))), true);
		}
	}
	class UncompressedDecoder extends SizedDecoder {
		override decodeBlock(buffer: StoredBlock): ArrayBufferLike {
			// A view is shared (with a ranged source's cache): the block is undone or swapped in place.
			return this.output(buffer instanceof Uint8Array ? buffer.slice() : new Uint8Array(buffer));
		}
	}
	class DeflateDecoder extends CodecDecoder {
		override decodeWithCodec(stored: Uint8Array): DecodedBlock {
			return codecs.inflate(stored, this.block.blockBytes, this.block.differencing);
		}
	}
	class LzwDecoder extends CodecDecoder {
		override decodeWithCodec(stored: Uint8Array): DecodedBlock {
			return codecs.lzw(stored, this.block.blockBytes, this.block.differencing);
		}
	}
	class PackBitsDecoder extends SizedDecoder {
		override decodeBlock(buffer: StoredBlock): ArrayBufferLike {
			return this.output(decodePackBits(storedBytes(buffer), this.block.blockBytes));
		}
	}
	class ZstdDecoder extends CodecDecoder {
		override decodeWithCodec(stored: Uint8Array): DecodedBlock {
			return codecs.zstd(stored, this.block.blockBytes, true, this.block.differencing);
		}
	}
	class LercDecoder extends SizedDecoder {
		override async decodeBlock(buffer: StoredBlock): Promise<ArrayBufferLike> {
			const additional = this.block.lercParameters?.[1] ?? LERC_ADDITIONAL_COMPRESSION.none;
			const maxBlobBytes = maxStoredBlockBytes(this.block.blockBytes);
			let blob = storedBytes(buffer);
			if (additional === LERC_ADDITIONAL_COMPRESSION.deflate) blob = copied(codecs.inflate(blob, maxBlobBytes));
			else if (additional === LERC_ADDITIONAL_COMPRESSION.zstd) blob = copied(codecs.zstd(blob, maxBlobBytes, false));
			else if (additional !== LERC_ADDITIONAL_COMPRESSION.none) {
				throw new RasterInputError("unsupported-raster", `LERC: unknown additional compression ${additional}`);
			}
			checkLercBlobs(blob, this.block);
			let decoded: ReturnType<typeof Lerc.decode>;
			try {
				decoded = Lerc.decode(ownBuffer(blob), { returnPixelInterleavedDims: this.block.planarConfiguration === 1 });
			} catch (error) {
				// The blobs were checked above, so what the LERC decoder refuses is their content. It
				// throws bare strings ("Checksum failed.").
				corrupt(`LERC: ${error instanceof Error ? error.message : String(error)}`);
			}
			const [pixels] = decoded.pixels;
			if (!pixels) corrupt("LERC: the block holds no pixels");
			return this.output(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
		}
	}

	class JpegDecoder extends SizedDecoder {
		#reader: JpegReader | null = null;

		override async decodeBlock(buffer: StoredBlock): Promise<ArrayBufferLike> {
			const bytes = storedBytes(buffer);
			checkJpegFrame(bytes, this.block);
			const Inner = await jpegDecoderClass;
			const tables = this.block.jpegTables;
			let reader: JpegReader;
			try {
				// The reader keeps the tables of JPEGTables, and of earlier blocks, as libjpeg does. The
				// tables are checked as a block is: a frame header in them would be parsed too.
				if (!this.#reader && tables) checkJpegFrame(tables, this.block, "the JPEGTables tag");
				this.#reader ??= (
					new Inner({ ...this.parameters, JPEGTables: tables ?? undefined }) as JpegDecoderWithReader
				).reader;
				reader = this.#reader;
				reader.resetFrames();
				reader.parse(bytes);
			} catch (error) {
				if (error instanceof RasterInputError) throw error;
				// geotiff.js's JPEG reader works on the block's and the tag's bytes alone: what it
				// refuses is them.
				corrupt(`JPEG: ${error instanceof Error ? error.message : String(error)}`);
			}
			const components = reader.frames[0]?.componentsOrder.length ?? 0;
			if (components !== this.block.samplesPerBlock) {
				corrupt(
					`JPEG: the block holds ${components} components; the file has ${this.block.samplesPerBlock} samples per pixel`,
				);
			}
			return this.output(jpegPixels(reader, { ycbcr: this.block.photometric === PHOTOMETRIC.ycbcr }));
		}
	}

	const parameters = blockParameters as unknown as Parameters<typeof addDecoder>[2];
	const register = (cases: number | number[], decoder: typeof BaseDecoder) => {
		viewTakingDecoders.add(decoder);
		addDecoder(cases, async () => decoder, parameters, false);
	};
	register(COMPRESSION.none, UncompressedDecoder);
	register([COMPRESSION.deflate, COMPRESSION.adobeDeflate], DeflateDecoder);
	register(COMPRESSION.lzw, LzwDecoder);
	register(COMPRESSION.packBits, PackBitsDecoder);
	register(COMPRESSION.zstd, ZstdDecoder);
	register(COMPRESSION.lerc, LercDecoder);
	register(COMPRESSION.jpeg, JpegDecoder);
	return ready;
}
