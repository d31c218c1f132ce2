/**
 * The Wasm tile encoder (src/wasm/deflate.ts): every stream must inflate, through the runtime's
 * own zlib, to TIFF predictor 3 bytes that give back the tile bit for bit, whatever the tile
 * holds: noise that only stored blocks fit, long runs, NaN, and sizes other than 512 x 512.
 * Integer output types must inflate to predictor 2 bytes that give back quantize()'s samples.
 */
import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { type OutputOptions, outputTypes, quantize, unscale } from "../../src/raster/output-type";
import { decodeIntegerTile, encodeRasters, encodeTiles } from "../../src/raster/tiles";
import { workerBlockDecoder } from "../../src/wasm/codecs";
import { createTileEncoder } from "../../src/wasm/deflate";
import { tileEncoder } from "../../src/wasm/index";
import deflateModule from "../../wasm/build/deflate.wasm";
import { undoFloatingPointPredictor, undoHorizontalPredictor } from "../predictor";
import { seededRandom } from "../random";

/** One tile's stream, taken alone. */
function encodeTile(...args: Parameters<typeof tileEncoder.add>): Uint8Array {
	tileEncoder.add(...args);
	return tileEncoder.take();
}

async function roundTrip(
	tile: Float32Array,
	width: number,
	rows: number,
): Promise<{ restored: Float32Array; bytes: number }> {
	const stream = encodeTile({ values: tile, width, height: rows }, 0, 0, width, rows);
	// zlib header: deflate with a 32 KiB window, check bits valid.
	expect(stream[0]).toBe(0x78);
	expect((((stream[0] as number) << 8) | (stream[1] as number)) % 31).toBe(0);
	const predicted = new Uint8Array(inflateSync(stream));
	expect(predicted.length).toBe(tile.byteLength);
	return { restored: undoFloatingPointPredictor(predicted, width, rows), bytes: stream.byteLength };
}

function bitsOf(values: Float32Array): Uint32Array {
	return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

describe("encodeTile", () => {
	const side = 512;
	const random = seededRandom(5);

	it("round-trips smooth values with noise, and compresses them", async () => {
		const tile = Float32Array.from({ length: side * side }, (_, i) => Math.sin(i / 5000) * 0.8 + random() * 0.01);
		const { restored, bytes } = await roundTrip(tile, side, side);
		expect(bitsOf(restored)).toEqual(bitsOf(tile));
		expect(bytes).toBeLessThan(tile.byteLength * 0.8);
	});

	it("round-trips random bit patterns, NaN payloads and infinities included, in stored blocks", async () => {
		const tile = new Float32Array(side * side);
		const bits = bitsOf(tile);
		for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(random() * 2 ** 32);
		const { restored, bytes } = await roundTrip(tile, side, side);
		expect(bitsOf(restored)).toEqual(bits);
		// Stored blocks cost 5 bytes per 32 KiB or more, plus the zlib header and checksum.
		expect(bytes).toBeLessThanOrEqual(tile.byteLength + 5 * (tile.byteLength / 32768) + 6);
	});

	it("round-trips an all-NaN tile (a COG's edge padding) in a few KiB", async () => {
		const tile = new Float32Array(side * side).fill(Number.NaN);
		const { restored, bytes } = await roundTrip(tile, side, side);
		expect(bitsOf(restored)).toEqual(bitsOf(tile));
		expect(bytes).toBeLessThan(8192);
	});

	it("round-trips runs that cross rows and blocks, and tiles of other sizes", async () => {
		for (const [width, rows] of [
			[16, 1],
			[16, 3],
			[48, 700],
		] as const) {
			const tile = Float32Array.from({ length: width * rows }, (_, i) => (Math.floor(i / 300) % 3 === 0 ? 0.25 : i));
			const { restored } = await roundTrip(tile, width, rows);
			expect(bitsOf(restored)).toEqual(bitsOf(tile));
		}
	});

	it("cuts a tile out of a larger raster, NaN past its right and bottom edges", async () => {
		const raster = { values: Float32Array.from({ length: 40 * 30 }, (_, i) => i), width: 40, height: 30 };
		const stream = encodeTile(raster, 32, 16, 16, 16);
		const restored = undoFloatingPointPredictor(new Uint8Array(inflateSync(stream)), 16, 16);
		for (let row = 0; row < 16; row++) {
			for (let column = 0; column < 16; column++) {
				const inside = 32 + column < 40 && 16 + row < 30;
				expect(restored[row * 16 + column]).toBe(inside ? (16 + row) * 40 + 32 + column : Number.NaN);
			}
		}
	});

	it("refuses widths that are not a multiple of 16, tiles outside the raster and mismatched rasters", () => {
		const raster = { values: new Float32Array(32 * 4), width: 32, height: 4 };
		expect(() => encodeTile(raster, 0, 0, 10, 4)).toThrow(RangeError);
		expect(() => encodeTile(raster, 32, 0, 16, 4)).toThrow(RangeError);
		expect(() => encodeTile(raster, 0, 4, 16, 4)).toThrow(RangeError);
		expect(() => encodeTile({ ...raster, height: 5 }, 0, 0, 16, 4)).toThrow(RangeError);
	});
});

describe("encodeTile with an integer output type", () => {
	const random = seededRandom(11);
	const integerTypes = ["int16", "uint16", "uint8"] as const;

	/** The samples a stream holds, through zlib and the TIFF reader's predictor 2. */
	function samplesOf(stream: Uint8Array, width: number, rows: number, output: OutputOptions): Uint8Array {
		const type = outputTypes[output.data_type];
		const predicted = new Uint8Array(inflateSync(stream));
		expect(predicted.length).toBe(width * rows * type.bytes);
		return undoHorizontalPredictor(predicted, width, rows, type.bytes as 1 | 2);
	}

	function bytesOf(values: Float32Array, output: OutputOptions): Uint8Array {
		const samples = quantize(values, output);
		return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
	}

	it.each(integerTypes)("%s: predictor 2 gives back quantize()'s samples, every difference wrapping", (dataType) => {
		const output = { data_type: dataType, scale: 1, offset: 0 };
		const { min, max, nodata } = outputTypes[dataType];
		// Jumps between the ends of the range, nodata among them, wrap modulo 2^bits.
		const edges = [min, max, nodata, 0, min, Number.NaN, max];
		for (const [width, rows] of [
			[16, 1],
			[48, 3],
			[512, 512],
		] as const) {
			const values = Float32Array.from(
				{ length: width * rows },
				(_, i) => edges[i % 23] ?? min + Math.floor(random() * (max - min + 1)),
			);
			const stream = encodeTile({ values, width, height: rows }, 0, 0, width, rows, output);
			expect(samplesOf(stream, width, rows, output)).toEqual(bytesOf(values, output));
		}
	});

	it.each(integerTypes)("%s: smooth values compress, runs across rows and blocks round-trip", (dataType) => {
		const output = { data_type: dataType, scale: 0.01, offset: 0 };
		const width = 512;
		const values = Float32Array.from({ length: width * width }, (_, i) =>
			Math.floor(i / 700) % 3 === 0 ? 0.25 : Math.abs(Math.sin(i / 5000)) * 2 + random() * 0.02,
		);
		const stream = encodeTile({ values, width, height: width }, 0, 0, width, width, output);
		expect(samplesOf(stream, width, width, output)).toEqual(bytesOf(values, output));
		expect(stream.byteLength).toBeLessThan(width * width * outputTypes[dataType].bytes * 0.8);
	});

	it.each(integerTypes)("%s: decodeIntegerTile gives back the unscaled samples, nodata as NaN", (dataType) => {
		const output = { data_type: dataType, scale: 0.01, offset: -1 };
		const width = 512;
		const values = Float32Array.from({ length: width * 300 }, (_, i) => (i % 7 === 0 ? Number.NaN : Math.sin(i / 900)));
		const stream = encodeTile({ values, width, height: 300 }, 0, 0, width, width, output);
		const decoded = new Float32Array(width * width);
		decodeIntegerTile(stream, decoded, workerBlockDecoder(), output);
		const expected = unscale(quantize(values, output), { ...output, nodata: outputTypes[dataType].nodata });
		expect(decoded.subarray(0, values.length)).toEqual(expected);
		// Past the raster's bottom edge: nodata.
		expect(decoded.subarray(values.length).every(Number.isNaN)).toBe(true);
	});

	it("fills the part past the raster's edges with the type's nodata", () => {
		const output = { data_type: "int16", scale: 1, offset: 0 } as const;
		const raster = { values: Float32Array.from({ length: 40 * 30 }, (_, i) => i), width: 40, height: 30 };
		const samples = new Int16Array(samplesOf(encodeTile(raster, 32, 16, 16, 16, output), 16, 16, output).buffer);
		for (let row = 0; row < 16; row++) {
			for (let column = 0; column < 16; column++) {
				const inside = 32 + column < 40 && 16 + row < 30;
				expect(samples[row * 16 + column]).toBe(inside ? (16 + row) * 40 + 32 + column : -32768);
			}
		}
	});
});

describe("tiles added one after another", () => {
	it("are taken out together, each stream as it is alone, when a larger tile moves the streams kept before it", async () => {
		const random = seededRandom(7);
		const raster = (width: number, height: number) => ({
			values: Float32Array.from({ length: width * height }, () => Math.round(random() * 1000) / 1000),
			width,
			height,
		});
		// Small first, then a tile whose room reaches past where the small ones' streams were kept.
		const tiles = [raster(16, 4), raster(32, 8), raster(512, 512), raster(16, 16)];
		// A fresh encoder, whose room has grown for no tile yet, so the large tile moves the streams.
		const encoder = createTileEncoder(deflateModule);
		const counts = tiles.map((tile) => encoder.add(tile, 0, 0, tile.width, tile.height));
		expect(encoder.holdsStreams()).toBe(true);
		const together = encoder.take();
		expect(encoder.holdsStreams()).toBe(false);
		const alone = tiles.map((tile) => encodeTile(tile, 0, 0, tile.width, tile.height));
		expect(counts).toEqual(alone.map((stream) => stream.byteLength));
		let at = 0;
		alone.forEach((stream, i) => {
			expect(together.subarray(at, at + (counts[i] ?? 0))).toEqual(stream);
			at += counts[i] ?? 0;
		});
		expect(together.byteLength).toBe(at);
		for (const [i, tile] of tiles.entries()) {
			const predicted = new Uint8Array(inflateSync(alone[i] as Uint8Array));
			expect(bitsOf(undoFloatingPointPredictor(predicted, tile.width, tile.height))).toEqual(bitsOf(tile.values));
		}
	});

	it("a task that finds streams another left is refused, not handed them", () => {
		const tile = { values: new Float32Array(256), width: 16, height: 16 };
		tileEncoder.add(tile, 0, 0, 16, 16);
		expect(() => encodeTiles(tile, tileEncoder)).toThrow(/holds streams/);
		tileEncoder.take();
		expect(encodeTiles(tile, tileEncoder).tileBytes).toHaveLength(1);
	});

	it("a failure part-way leaves the encoder empty, not holding the tiles before it", () => {
		const tile = { values: new Float32Array(512 * 512), width: 512, height: 512 };
		const malformed = { values: new Float32Array(10), width: 512, height: 512 };
		expect(() => encodeRasters([tile, malformed], tileEncoder)).toThrow(RangeError);
		expect(tileEncoder.holdsStreams()).toBe(false);
		expect(encodeTiles(tile, tileEncoder).tileBytes).toHaveLength(1);
	});
});
