/**
 * The pixel work behind result.tif: cutting float32 rasters into COG tiles, encoding a tile
 * (floating-point predictor, then zlib through the runtime's own CompressionStream), and the
 * 2 x 2 NaN-aware average that makes each overview level from the one above it.
 */
import { COG_TILE_SIZE } from "./cog-writer";

/** A row-major float32 raster (or window of one). */
export interface FloatRaster {
	values: Float32Array;
	width: number;
	height: number;
}

const TILE_PIXELS = COG_TILE_SIZE * COG_TILE_SIZE;
const BYTES_PER_SAMPLE = 4;

/** Collects a stream's chunks into one array. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
	const chunks: Uint8Array[] = [];
	let length = 0;
	for await (const chunk of stream) {
		chunks.push(chunk);
		length += chunk.byteLength;
	}
	if (chunks.length === 1 && chunks[0]?.buffer instanceof ArrayBuffer) return chunks[0] as Uint8Array<ArrayBuffer>;
	const joined = new Uint8Array(length);
	let offset = 0;
	for (const chunk of chunks) {
		joined.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return joined;
}

/** zlib (RFC 1950) compression, TIFF's Deflate, by the runtime's native CompressionStream. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
	const stream = new CompressionStream("deflate");
	const writer = stream.writable.getWriter();
	const written = Promise.all([writer.write(bytes as Uint8Array<ArrayBuffer>), writer.close()]);
	const compressed = await readAll(stream.readable);
	await written;
	return compressed;
}

/**
 * TIFF's floating-point predictor (Technical Note 3) over one tile, in place into `out`: each
 * row's samples are split into byte planes, most significant first, and every byte of the row
 * then holds its difference from the byte before it.
 */
export function applyFloatingPointPredictor(tile: Float32Array, out: Uint8Array): void {
	const bytes = new Uint8Array(tile.buffer, tile.byteOffset, tile.byteLength);
	const rowBytes = COG_TILE_SIZE * BYTES_PER_SAMPLE;
	for (let row = 0; row < COG_TILE_SIZE; row++) {
		const start = row * rowBytes;
		// The host is little-endian (workerd and Node on x86 and ARM): byte 3 is the most significant.
		for (let i = 0; i < COG_TILE_SIZE; i++) {
			const from = start + i * BYTES_PER_SAMPLE;
			out[start + i] = bytes[from + 3] as number;
			out[start + COG_TILE_SIZE + i] = bytes[from + 2] as number;
			out[start + 2 * COG_TILE_SIZE + i] = bytes[from + 1] as number;
			out[start + 3 * COG_TILE_SIZE + i] = bytes[from] as number;
		}
		for (let i = rowBytes - 1; i > 0; i--) {
			out[start + i] = ((out[start + i] as number) - (out[start + i - 1] as number)) & 0xff;
		}
	}
}

/**
 * The tiles of `raster` in row-major order, each cut out and run through the predictor into
 * bytes of its own. Tiles past the raster's right or bottom edge are filled with NaN (nodata),
 * as a COG's edge tiles are always whole. Each tile is read from `raster` only when the
 * generator is advanced to it.
 */
export function* predictedTiles(raster: FloatRaster): Generator<Uint8Array<ArrayBuffer>> {
	const tile = new Float32Array(TILE_PIXELS);
	for (let y0 = 0; y0 < raster.height; y0 += COG_TILE_SIZE) {
		for (let x0 = 0; x0 < raster.width; x0 += COG_TILE_SIZE) {
			const columns = Math.min(COG_TILE_SIZE, raster.width - x0);
			const rows = Math.min(COG_TILE_SIZE, raster.height - y0);
			if (columns < COG_TILE_SIZE || rows < COG_TILE_SIZE) tile.fill(Number.NaN);
			for (let row = 0; row < rows; row++) {
				const from = (y0 + row) * raster.width + x0;
				tile.set(raster.values.subarray(from, from + columns), row * COG_TILE_SIZE);
			}
			const predicted = new Uint8Array(TILE_PIXELS * BYTES_PER_SAMPLE);
			applyFloatingPointPredictor(tile, predicted);
			yield predicted;
		}
	}
}

/** Deflates predicted tiles (see {@link predictedTiles}) one at a time, in order. */
export async function encodeTiles(tiles: Iterable<Uint8Array>): Promise<Uint8Array<ArrayBuffer>[]> {
	const encoded: Uint8Array<ArrayBuffer>[] = [];
	for (const tile of tiles) encoded.push(await deflate(tile));
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
