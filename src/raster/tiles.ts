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

/**
 * Encodes the tiles of `raster` as `output`'s samples in row-major order and returns each
 * one's bytes. Tiles past the raster's right or bottom edge are filled with nodata, as a COG's
 * edge tiles are always whole. Synchronous, so it can run on a view of Wasm memory that a later
 * call may move.
 */
export function encodeTiles(
	raster: FloatRaster,
	encodeTile: TileEncoder,
	output: OutputOptions = FLOAT32_OUTPUT,
): Uint8Array<ArrayBuffer>[] {
	const encoded: Uint8Array<ArrayBuffer>[] = [];
	for (let y0 = 0; y0 < raster.height; y0 += COG_TILE_SIZE) {
		for (let x0 = 0; x0 < raster.width; x0 += COG_TILE_SIZE) {
			encoded.push(encodeTile(raster, x0, y0, COG_TILE_SIZE, COG_TILE_SIZE, output));
		}
	}
	return encoded;
}

/**
 * The values of one stored tile of an integer output type, as encodeTile wrote it: inflated
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

/** A pixel's share of a mean's sum: nothing when it is NaN (nodata or past the edge). */
function orZero(value: number): number {
	return Number.isNaN(value) ? 0 : value;
}

/** A pixel's share of a mean's count. */
function isValid(value: number): number {
	return Number.isNaN(value) ? 0 : 1;
}

/**
 * The next overview level: each pixel is the mean of the valid (non-NaN) pixels of its 2 x 2
 * block, NaN when none is valid, like GDAL's AVERAGE resampling. Odd edges average the pixels
 * that exist. Means are taken in float64 and rounded once to float32.
 *
 * This runs over every output pixel of a job, so its loop is plain arithmetic: no per-pixel
 * closure (bundlers that keep function names wrap each one in a call) and no edge cases, as a
 * pixel past the right or bottom edge reads as NaN, which the mean skips like nodata.
 * `into`, when given, receives the result instead of a new array (e.g. the next level's rows).
 */
export function halve(raster: FloatRaster, into?: Float32Array): FloatRaster {
	const width = Math.ceil(raster.width / 2);
	const height = Math.ceil(raster.height / 2);
	if (into && into.length !== width * height)
		throw new RangeError(`halving needs ${width * height} values, not ${into.length}`);
	const values = into ?? new Float32Array(width * height);
	const source = raster.values;
	const evenWidth = raster.width % 2 === 0;
	for (let y = 0; y < height; y++) {
		const top = 2 * y * raster.width;
		const bottom = 2 * y + 1 < raster.height ? top + raster.width : -1;
		const row = y * width;
		for (let x = 0; x < width; x++) {
			const left = 2 * x;
			const hasRight = evenWidth || x < width - 1;
			const a = source[top + left] as number;
			const b = hasRight ? (source[top + left + 1] as number) : Number.NaN;
			const c = bottom < 0 ? Number.NaN : (source[bottom + left] as number);
			const d = bottom < 0 || !hasRight ? Number.NaN : (source[bottom + left + 1] as number);
			// Summed in the same order as a loop skipping NaN would, from the same +0.
			const sum = 0 + orZero(a) + orZero(b) + orZero(c) + orZero(d);
			const count = isValid(a) + isValid(b) + isValid(c) + isValid(d);
			values[row + x] = count === 0 ? Number.NaN : sum / count;
		}
	}
	return { values, width, height };
}
