/**
 * The Wasm LZW decoder (wasm/assembly/decode.ts through src/wasm/decode.ts) against an
 * independent TIFF LZW encoder, against libtiff's output, and against the plain TypeScript
 * decoder it replaced (test/lzw-reference.ts) on cut and corrupted streams.
 */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { RasterInputError } from "../../src/raster/input-errors";
import { createBlockDecoder } from "../../src/wasm/decode";
import decodeModule from "../../wasm/build/decode.wasm";
import lzwPred2Red from "../fixtures/layouts/lzw_pred2_red.tif";
import rotated from "../fixtures/layouts/rotated.tif";
import bgrn from "../fixtures/s2_bgrn_300x200_lzw_striped.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { decodeLzw as referenceLzw } from "../lzw-reference";
import { seededRandom } from "../random";
import { storedBlocks } from "../stored-blocks";

const decoder = createBlockDecoder(decodeModule);
const decodeLzw = (input: Uint8Array, maxBytes: number) => decoder.lzw(input, maxBytes);

/** A decoder's answer: its bytes, or the message of its refusal. */
function answer(decode: (input: Uint8Array, maxBytes: number) => Uint8Array, input: Uint8Array, maxBytes: number) {
	try {
		return Array.from(decode(input, maxBytes));
	} catch (error) {
		if (!(error instanceof RasterInputError)) throw error;
		return error.message;
	}
}

/**
 * TIFF LZW as the specification describes it, as libtiff writes it: a string table in a Map,
 * codes written most significant bit first, a clear code before the table is full and wherever
 * `clearsAt` says, and end-of-information at the width the decoder will have reached.
 */
function encodeLzw(data: Uint8Array, clearsAt: readonly number[] = []): Uint8Array {
	const out: number[] = [];
	let buffer = 0;
	let bufferBits = 0;
	let width = 9;
	const emit = (code: number) => {
		buffer = (buffer << width) | code;
		bufferBits += width;
		while (bufferBits >= 8) {
			bufferBits -= 8;
			out.push((buffer >>> bufferBits) & 0xff);
		}
		buffer &= (1 << bufferBits) - 1;
	};
	let table = new Map<string, number>();
	let next = 258;
	const clear = () => {
		emit(256);
		table = new Map();
		next = 258;
		width = 9;
	};
	/** Emits the current string; the decoder adds a table entry on it, one code late. */
	const emitString = (current: string, extended: string | null) => {
		emit(current.includes(",") ? (table.get(current) as number) : Number(current));
		if (extended !== null) table.set(extended, next);
		next++;
		// The decoder adds each entry one code later, so it widens on the same code.
		if (next >= 1 << width && width < 12) width++;
	};
	clear();
	let current = "";
	for (const [i, byte] of data.entries()) {
		if (clearsAt.includes(i) && current !== "") {
			emitString(current, null);
			clear();
			current = "";
		}
		const extended = `${current},${byte}`;
		if (current === "" || table.has(extended)) {
			current = current === "" ? `${byte}` : extended;
			continue;
		}
		emitString(current, extended);
		if (next >= 4093) clear();
		current = `${byte}`;
	}
	if (current !== "") emitString(current, null);
	emit(257);
	if (bufferBits > 0) out.push((buffer << (8 - bufferBits)) & 0xff);
	return Uint8Array.from(out);
}

function randomBytes(length: number, alphabet: number, seed: number): Uint8Array {
	let state = seed;
	return Uint8Array.from({ length }, () => {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		return (state >>> 16) % alphabet;
	});
}

describe("decodeLzw", () => {
	it.each([
		["runs of one byte (the code being defined is used at once)", new Uint8Array(5000).fill(7)],
		["few symbols (long strings, every code width, a full table and clear codes)", randomBytes(200_000, 3, 1)],
		["all byte values (short strings)", randomBytes(50_000, 256, 2)],
		["a single byte", Uint8Array.of(42)],
	])("round-trips %s", (_, data) => {
		expect(decodeLzw(encodeLzw(data), data.length)).toEqual(data);
	});

	it("widens codes at 511, 1023 and 2047 (one code early), whatever code ends the stream", () => {
		// Strings of one and two bytes: about one table entry per code, so the stream's end falls
		// on each side of every change of width as the length grows.
		const random = seededRandom(4);
		const data = Uint8Array.from({ length: 5000 }, () => Math.floor(random() * 256));
		for (let length = 200; length <= 5000; length += length < 2300 ? 1 : 7) {
			const stream = encodeLzw(data.subarray(0, length));
			// Room past the data: the decoder must read end-of-information at the right width.
			expect(decodeLzw(stream, length + 100)).toEqual(data.subarray(0, length));
		}
	});

	it("starts over at every clear code, with a full table or not", () => {
		const random = seededRandom(5);
		const data = Uint8Array.from({ length: 60_000 }, () => Math.floor(random() * 4));
		const stream = encodeLzw(data, [1, 100, 101, 3000, 3001, 30_000]);
		expect(decodeLzw(stream, data.length + 100)).toEqual(data);
	});

	it("stops at the block's size and returns a short block at its length", () => {
		const data = randomBytes(3000, 5, 3);
		expect(decodeLzw(encodeLzw(data), 1000)).toEqual(data.subarray(0, 1000));
		expect(decodeLzw(encodeLzw(data), 4000)).toEqual(data);
	});

	it("rejects a code that is not in the table", () => {
		// Clear, 'A', then code 300 while the next free code is 258.
		const bits = [256, 65, 300].map((code) => code.toString(2).padStart(9, "0")).join("");
		const bytes = Uint8Array.from(bits.padEnd(32, "0").match(/.{8}/g) ?? [], (byte) => Number.parseInt(byte, 2));
		expect(() => decodeLzw(bytes, 10)).toThrow(/not in the table/);
	});

	it("returns what the stream holds when it is cut, as the reference decoder does", () => {
		const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * i) % 7);
		const stream = encodeLzw(data);
		for (let length = 0; length <= stream.length; length++) {
			const cut = stream.subarray(0, length);
			const decoded = decodeLzw(cut, data.length);
			expect(decoded).toEqual(referenceLzw(cut, data.length));
			expect(decoded).toEqual(data.subarray(0, decoded.length));
		}
	});

	it("answers corrupted and random streams as the reference decoder does", () => {
		const random = seededRandom(6);
		for (let trial = 0; trial < 2000; trial++) {
			const length = 1 + Math.floor(random() * 2000);
			let stream: Uint8Array;
			if (trial % 3 === 0) {
				stream = Uint8Array.from({ length }, () => Math.floor(random() * 256));
			} else {
				stream = encodeLzw(Uint8Array.from({ length }, () => Math.floor(random() * (trial % 2 ? 3 : 256))));
				for (let i = 0; i < 1 + (trial % 4); i++) {
					const at = Math.floor(random() * stream.length);
					stream[at] = (stream[at] as number) ^ (1 << Math.floor(random() * 8));
				}
			}
			const maxBytes = Math.floor(random() * 3000);
			expect(answer(decodeLzw, stream, maxBytes)).toEqual(answer(referenceLzw, stream, maxBytes));
		}
	});

	it.each([
		["s2_bgrn_300x200_lzw_striped.tif", bgrn],
		["layouts/lzw_pred2_red.tif", lzwPred2Red],
		["layouts/rotated.tif", rotated],
	])("%s: every block, as the reference decoder gives it", async (_, file) => {
		const { compression, blocks } = await storedBlocks(file);
		expect(compression).toBe(5);
		for (const { stored, decodedBytes } of blocks) {
			const decoded = decodeLzw(stored, decodedBytes);
			expect(decoded.length).toBe(decodedBytes);
			expect(decoded).toEqual(referenceLzw(stored, decodedBytes));
		}
	});

	it("decodes the strips libtiff wrote to the pixels GDAL stored", async () => {
		// rotated.tif holds s2_red_256 and s2_nir_256 as two pixel-interleaved bands, LZW strips.
		const image = await (await fromArrayBuffer(rotated)).getImage();
		const directory = image.getFileDirectory();
		const offsets = (await directory.loadValue("StripOffsets")) as ArrayLike<number>;
		const counts = (await directory.loadValue("StripByteCounts")) as ArrayLike<number>;
		const rowBytes = image.getWidth() * image.getBytesPerPixel();
		const rowsPerStrip = Number(directory.getValue("RowsPerStrip"));
		const decoded = new Uint8Array(image.getHeight() * rowBytes);
		for (let strip = 0; strip < offsets.length; strip++) {
			const rows = Math.min(rowsPerStrip, image.getHeight() - strip * rowsPerStrip);
			const compressed = new Uint8Array(rotated, Number(offsets[strip]), Number(counts[strip]));
			decoded.set(decodeLzw(compressed, rows * rowBytes), strip * rowsPerStrip * rowBytes);
		}
		const band = async (bytes: ArrayBuffer) =>
			((await (await (await fromArrayBuffer(bytes)).getImage()).readRasters()) as unknown as Uint16Array[])[0];
		const red = await band(red256);
		const nir = await band(nir256);
		const pixels = new Uint16Array(decoded.buffer);
		const expected = Uint16Array.from(
			{ length: pixels.length },
			(_, i) => ((i % 2 ? nir : red)?.[i >> 1] ?? 0) as number,
		);
		expect(pixels).toEqual(expected);
	});
});
