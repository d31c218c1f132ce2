/**
 * What compute leaves for store, made directly from a float32 raster: a plan of windows and,
 * per window, its encoded tiles, its 2 x 2 average and its tiles' byte counts. Store's tests
 * start from these instead of running compute, so they can choose the raster's size and content
 * (random values compress poorly, so a few megapixels make a result.tif of several parts).
 */
import type { StripSpan } from "../src/pipeline/plan";
import type { GeoReference } from "../src/raster/georeference";
import { encodeTiles, type FloatRaster, halve } from "../src/raster/tiles";
import { encodeTile } from "../src/wasm/index";
import { seededRandom } from "./random";

/** Row-major windows of `rows` x `columns` pixels over a `width` x `height` raster. */
export function planWindows(width: number, height: number, rows: number, columns: number): StripSpan[] {
	const strips: StripSpan[] = [];
	for (let rowStart = 0; rowStart < height; rowStart += rows) {
		for (let colStart = 0; colStart < width; colStart += columns) {
			strips.push({
				index: strips.length,
				rowStart,
				rowEnd: Math.min(height, rowStart + rows),
				colStart,
				colEnd: Math.min(width, colStart + columns),
			});
		}
	}
	return strips;
}

export function windowOf(raster: FloatRaster, { rowStart, rowEnd, colStart, colEnd }: StripSpan): FloatRaster {
	const width = colEnd - colStart;
	const values = new Float32Array(width * (rowEnd - rowStart));
	for (let row = rowStart; row < rowEnd; row++) {
		const from = row * raster.width + colStart;
		values.set(raster.values.subarray(from, from + width), (row - rowStart) * width);
	}
	return { values, width, height: rowEnd - rowStart };
}

/** Values in [-1, 1) with about one in ten NaN, the same for a seed. */
export function randomRaster(width: number, height: number, seed: number): FloatRaster {
	const random = seededRandom(seed);
	const values = Float32Array.from({ length: width * height }, () => (random() < 0.1 ? Number.NaN : random() * 2 - 1));
	return { values, width, height };
}

/** A window's outputs as compute stores them. */
export interface WindowOutput {
	tiles: Blob;
	half: Float32Array;
	tileBytes: number[];
}

export function windowOutput(raster: FloatRaster, strip: StripSpan): WindowOutput {
	const window = windowOf(raster, strip);
	const tiles = encodeTiles(window, encodeTile);
	return { tiles: new Blob(tiles), half: halve(window).values, tileBytes: tiles.map((tile) => tile.byteLength) };
}

/** A UTM-like georeference, so the header carries the tags a real result has. */
export const TEST_GEO: GeoReference = {
	modelPixelScale: [10, 10, 0],
	modelTiepoint: [0, 0, 0, 300000, 5000040, 0],
	modelTransformation: null,
	geoKeyDirectory: [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633],
	geoDoubleParams: null,
	geoAsciiParams: null,
};
