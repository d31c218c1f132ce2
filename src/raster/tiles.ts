/**
 * The pixel work behind result.tif: cutting float32 rasters into COG tiles, each quantised to
 * the output type and encoded by the Wasm tile encoder (predictor and zlib,
 * src/wasm/deflate.ts), and the 2 x 2 NaN-aware average that makes each overview level from
 * the one above it (always in float: a level is quantised only as its tiles are encoded).
 */
import type { BlockDecoder } from "../wasm/decode";
import type { TileEncoder } from "../wasm/deflate";
import { COG_TILE_SIZE } from "./cog-writer";
import { FLOAT32_OUTPUT, type OutputOptions, outputTypes, unscale } from "./output-type";

/** A row-major float32 raster (or window of one). */
export interface FloatRaster {
	values: Float32Array;
	width: number;
	height: number;
}

/** A raster's tiles encoded, row-major: their streams one after another, and each one's byte count. */
export interface EncodedTiles {
	bytes: Uint8Array<ArrayBuffer>;
	tileBytes: number[];
}

/**
 * Encodes the tiles of each raster in turn, each raster's row-major, as `output`'s samples, into
 * one buffer, and returns each tile's byte count by raster. Tiles past a raster's right or
 * bottom edge are filled with nodata, as a COG's edge tiles are always whole. Synchronous, so
 * it can run on a view of Wasm memory that a later call may move.
 */
export function encodeRasters(
	rasters: readonly FloatRaster[],
	encoder: TileEncoder,
	output: OutputOptions = FLOAT32_OUTPUT,
): { bytes: Uint8Array<ArrayBuffer>; tileBytes: number[][] } {
	if (encoder.holdsStreams()) throw new Error("the tile encoder holds streams another task did not take");
	let tileBytes: number[][];
	try {
		tileBytes = rasters.map((raster) => {
			const counts: number[] = [];
			for (let y0 = 0; y0 < raster.height; y0 += COG_TILE_SIZE) {
				for (let x0 = 0; x0 < raster.width; x0 += COG_TILE_SIZE) {
					counts.push(encoder.add(raster, x0, y0, COG_TILE_SIZE, COG_TILE_SIZE, output));
				}
			}
			return counts;
		});
	} catch (error) {
		// The streams of the tiles before the failure are nobody's: the encoder is left empty.
		encoder.take();
		throw error;
	}
	return { bytes: encoder.take(), tileBytes };
}

/** {@link encodeRasters} of one raster. */
export function encodeTiles(
	raster: FloatRaster,
	encoder: TileEncoder,
	output: OutputOptions = FLOAT32_OUTPUT,
): EncodedTiles {
	const { bytes, tileBytes } = encodeRasters([raster], encoder, output);
	return { bytes, tileBytes: tileBytes[0] ?? [] };
}

/**
 * The values of one stored tile of an integer output type, as the tile encoder wrote it: inflated
 * and predictor 2 undone by `decoder`, then unscaled into `into` (one value per pixel of the
 * tile, NaN for nodata), within scale / 2 of the values encoded. For a second pass over a
 * window's stored tiles; float32 tiles take the kernels' floating-point predictor instead.
 */
export function decodeIntegerTile(
	stream: Uint8Array,
	into: Float32Array,
	decoder: BlockDecoder,
	output: OutputOptions,
	width = COG_TILE_SIZE,
): void {
	const type = outputTypes[output.data_type];
	if (type.predictor !== 2) throw new RangeError(`${output.data_type} tiles are not integer tiles`);
	const bytes = into.length * type.bytes;
	const samples = decoder.inflate(stream, bytes, { rowSamples: width, stride: 1, bytesPerSample: type.bytes });
	if (samples.byteLength !== bytes) throw new RangeError(`a tile inflated to ${samples.byteLength} of ${bytes} bytes`);
	into.set(unscale(type.view(samples.buffer, 0, into.length), { ...output, nodata: type.nodata }));
}

/**
 * The next overview level: each pixel is the mean of the valid (non-NaN) pixels of its 2 x 2
 * block, NaN when none is valid, like GDAL's AVERAGE resampling. Odd edges average the pixels
 * that exist. Means are taken in float64 and rounded once to float32.
 *
 * This runs over every output pixel of a job, so its loops are plain arithmetic: no per-pixel
 * call or closure (bundlers that keep function names wrap each closure in a call), and the blocks
 * that have both rows and both columns (all but an odd width's last column and an odd height's
 * last row) take a loop of their own without edge checks; at the edges a pixel past the raster
 * reads as NaN, which the mean skips like nodata. A NaN adds nothing to a sum started at +0, so
 * skipping it gives the same float64 sum as a loop over the valid pixels in the same order.
 * `into`, when given, receives the result instead of a new array (e.g. the next level's rows).
 */
export function halve(raster: FloatRaster, into?: Float32Array): FloatRaster {
	const width = Math.ceil(raster.width / 2);
	const height = Math.ceil(raster.height / 2);
	if (into && into.length !== width * height)
		throw new RangeError(`halving needs ${width * height} values, not ${into.length}`);
	const values = into ?? new Float32Array(width * height);
	const source = raster.values;
	const sourceWidth = raster.width;
	const pairs = sourceWidth >> 1;
	for (let y = 0; y < height; y++) {
		const top = 2 * y * sourceWidth;
		const row = y * width;
		// The last row of an odd height has no row below it.
		const bottom = 2 * y + 1 < raster.height ? top + sourceWidth : -1;
		if (bottom >= 0) {
			for (let x = 0; x < pairs; x++) {
				const a = source[top + 2 * x] as number;
				const b = source[top + 2 * x + 1] as number;
				const c = source[bottom + 2 * x] as number;
				const d = source[bottom + 2 * x + 1] as number;
				const sum =
					0 +
					(Number.isNaN(a) ? 0 : a) +
					(Number.isNaN(b) ? 0 : b) +
					(Number.isNaN(c) ? 0 : c) +
					(Number.isNaN(d) ? 0 : d);
				const count =
					(Number.isNaN(a) ? 0 : 1) + (Number.isNaN(b) ? 0 : 1) + (Number.isNaN(c) ? 0 : 1) + (Number.isNaN(d) ? 0 : 1);
				values[row + x] = count === 0 ? Number.NaN : sum / count;
			}
		}
		for (let x = bottom >= 0 ? pairs : 0; x < width; x++) {
			const a = source[top + 2 * x] as number;
			const b = 2 * x + 1 < sourceWidth ? (source[top + 2 * x + 1] as number) : Number.NaN;
			const c = bottom >= 0 ? (source[bottom + 2 * x] as number) : Number.NaN;
			const sum = 0 + (Number.isNaN(a) ? 0 : a) + (Number.isNaN(b) ? 0 : b) + (Number.isNaN(c) ? 0 : c);
			const count = (Number.isNaN(a) ? 0 : 1) + (Number.isNaN(b) ? 0 : 1) + (Number.isNaN(c) ? 0 : 1);
			values[row + x] = count === 0 ? Number.NaN : sum / count;
		}
	}
	return { values, width, height };
}
