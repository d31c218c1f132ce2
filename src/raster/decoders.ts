/**
 * The TIFF decoders EO Edge plugs into geotiff.js, so that every compression a real archive
 * uses decodes inside a Worker and fast enough for whole scenes:
 * - Deflate through an inflate the caller chooses (the runtime's DecompressionStream in the
 *   Worker, where it measures faster than pako; see `npm run bench:decode`).
 * - LZW through src/raster/lzw.ts instead of geotiff.js's decoder (about 2 Mpx/s).
 * - ZSTD, and LERC with its optional Deflate or ZSTD layer, through a Zstandard decoder that
 *   was compiled ahead of time: geotiff.js's own ZSTD and LERC decoders compile Wasm from
 *   bytes, which Workers forbid.
 * PackBits and uncompressed blocks keep geotiff.js's decoders. Predictors 2 and 3 are applied
 * by geotiff.js's BaseDecoder after every decoder here.
 */
import { addDecoder, BaseDecoder, type ImageFileDirectory } from "geotiff";
import Lerc from "lerc";
import type { ZstdDecode } from "../wasm/zstd";
import { decodeLzw } from "./lzw";

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

/** Inflates a zlib stream; `expectedBytes`, when known, sizes the output once. */
export type Inflate = (input: Uint8Array, expectedBytes?: number) => Promise<Uint8Array> | Uint8Array;

export interface Codecs {
	inflate: Inflate;
	zstd: ZstdDecode;
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
	/** LERC version and additional compression (GDAL's LercParameters tag). */
	lercParameters: number[] | null;
}

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
		lercParameters: directory.hasTag("LercParameters") ? numbersOf(await directory.loadValue("LercParameters")) : null,
	};
}

/** The decoded bytes as an ArrayBuffer of exactly their length, as geotiff.js expects. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
	return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
		? (bytes.buffer as ArrayBuffer)
		: (bytes.slice().buffer as ArrayBuffer);
}

/** LercParameters' second value: the layer GDAL wraps the LERC blob in. */
const LERC_ADDITIONAL_COMPRESSION = { none: 0, deflate: 1, zstd: 2 } as const;

let installed: Codecs | null = null;

/**
 * Registers the decoders with geotiff.js for the whole isolate. Installing the same codecs
 * again is a no-op; other codecs replace them.
 */
export function installDecoders(codecs: Codecs): void {
	if (installed === codecs) return;
	installed = codecs;

	abstract class SizedDecoder extends BaseDecoder {
		get block(): BlockParameters {
			return this.parameters as unknown as BlockParameters;
		}
	}
	class DeflateDecoder extends SizedDecoder {
		override async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
			return ownBuffer(await codecs.inflate(new Uint8Array(buffer), this.block.blockBytes));
		}
	}
	class LzwDecoder extends SizedDecoder {
		override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
			return ownBuffer(decodeLzw(new Uint8Array(buffer), this.block.blockBytes));
		}
	}
	class ZstdDecoder extends SizedDecoder {
		override decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
			return ownBuffer(codecs.zstd(new Uint8Array(buffer), this.block.blockBytes));
		}
	}
	class LercDecoder extends SizedDecoder {
		override async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
			const additional = this.block.lercParameters?.[1] ?? LERC_ADDITIONAL_COMPRESSION.none;
			let blob = new Uint8Array(buffer);
			if (additional === LERC_ADDITIONAL_COMPRESSION.deflate) blob = await codecs.inflate(blob);
			else if (additional === LERC_ADDITIONAL_COMPRESSION.zstd) blob = codecs.zstd(blob);
			else if (additional !== LERC_ADDITIONAL_COMPRESSION.none) {
				throw new Error(`LERC: unknown additional compression ${additional}`);
			}
			const decoded = Lerc.decode(ownBuffer(blob), {
				returnPixelInterleavedDims: this.block.planarConfiguration === 1,
			});
			const [pixels] = decoded.pixels;
			if (!pixels) throw new Error("LERC: the block holds no pixels");
			return ownBuffer(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
		}
	}

	const parameters = blockParameters as unknown as Parameters<typeof addDecoder>[2];
	const register = (cases: number | number[], decoder: typeof BaseDecoder) =>
		addDecoder(cases, async () => decoder, parameters, false);
	register([COMPRESSION.deflate, COMPRESSION.adobeDeflate], DeflateDecoder);
	register(COMPRESSION.lzw, LzwDecoder);
	register(COMPRESSION.zstd, ZstdDecoder);
	register(COMPRESSION.lerc, LercDecoder);
}
