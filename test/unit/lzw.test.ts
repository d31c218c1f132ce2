/** The LZW decoder against an independent TIFF LZW encoder, and against libtiff's output. */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { decodeLzw } from "../../src/raster/lzw";
import rotated from "../fixtures/layouts/rotated.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";

/**
 * TIFF LZW as the specification describes it (a string table in a Map, codes written most
 * significant bit first, a clear code before the table is full).
 */
function encodeLzw(data: Uint8Array): Uint8Array {
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
	emit(256);
	let current = "";
	for (const byte of data) {
		const extended = `${current},${byte}`;
		if (current === "" || table.has(extended)) {
			current = current === "" ? `${byte}` : extended;
			continue;
		}
		emit(current.includes(",") ? (table.get(current) as number) : Number(current));
		table.set(extended, next++);
		// The decoder adds each entry one code later, so it widens on the same code.
		if (next >= 1 << width && width < 12) width++;
		if (next >= 4093) {
			emit(256);
			table = new Map();
			next = 258;
			width = 9;
		}
		current = `${byte}`;
	}
	if (current !== "") emit(current.includes(",") ? (table.get(current) as number) : Number(current));
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
