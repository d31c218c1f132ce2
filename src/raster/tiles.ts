/**
 * The pixel work behind result.tif: cutting float32 rasters into COG tiles, each encoded by the
 * Wasm tile encoder (floating-point predictor and zlib, src/wasm/deflate.ts), and the 2 x 2
 * NaN-aware average that makes each overview level from the one above it.
 */
import type { TileEncoder } from "../wasm/deflate";
import { COG_TILE_SIZE } from "./cog-writer";

/** A row-major float32 raster (or window of one). */
export interface FloatRaster {
	values: Float32Array;
	width: number;
	height: number;
}

/**
 * Encodes the tiles of `raster` in row-major order and returns each one's bytes. Tiles past
 * the raster's right or bottom edge are filled with NaN (nodata), as a COG's edge tiles are
 * always whole. Synchronous, so it can run on a view of Wasm memory that a later call may move.
 */
export function encodeTiles(raster: FloatRaster, encodeTile: TileEncoder): Uint8Array<ArrayBuffer>[] {
	const encoded: Uint8Array<ArrayBuffer>[] = [];
	for (let y0 = 0; y0 < raster.height; y0 += COG_TILE_SIZE) {
		for (let x0 = 0; x0 < raster.width; x0 += COG_TILE_SIZE) {
			encoded.push(encodeTile(raster, x0, y0, COG_TILE_SIZE, COG_TILE_SIZE));
		}
	}
	return encoded;
}

/**
 * The next overview level: each pixel is the mean of the valid (non-NaN) pixels of its 2 x 2
 * block, NaN when none is valid, like GDAL's AVERAGE resampling. Odd edges average the pixels
 * that exist. Means are taken in float64 and rounded once to float32.
 */
export function halve(raster: FloatRaster): FloatRaster {
	const width = Math.ceil(raster.width / 2);
	const height = Math.ceil(raster.height / 2);
	const values = new Float32Array(width * height);
	const source = raster.values;
	for (let y = 0; y < height; y++) {
		const top = 2 * y * raster.width;
		const bottom = 2 * y + 1 < raster.height ? top + raster.width : -1;
		for (let x = 0; x < width; x++) {
			const left = 2 * x;
			const hasRight = left + 1 < raster.width;
			let sum = 0;
			let count = 0;
			const add = (value: number) => {
				if (!Number.isNaN(value)) {
					sum += value;
					count++;
				}
			};
			add(source[top + left] as number);
			if (hasRight) add(source[top + left + 1] as number);
			if (bottom >= 0) {
				add(source[bottom + left] as number);
				if (hasRight) add(source[bottom + left + 1] as number);
			}
			values[y * width + x] = count === 0 ? Number.NaN : sum / count;
		}
	}
	return { values, width, height };
}
