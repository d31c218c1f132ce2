/**
 * The Wasm inflate (wasm/assembly/decode.ts through src/wasm/decode.ts): every stream three
 * independent encoders write (pako, fflate, node:zlib, at every level and strategy) and every
 * Deflate block GDAL wrote in test/fixtures inflates to the same bytes as node:zlib gives;
 * hand-made blocks reach what encoders rarely write (a match at distance 32768, codes 286 and
 * 287, incomplete codes); and every malformed stream is refused with a RasterInputError that
 * names Deflate, as zlib refuses it, however it is cut or corrupted.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { zlibSync } from "fflate";
import { deflate as pakoDeflate } from "pako";
import { describe, expect, it } from "vitest";
import { RasterInputError } from "../../src/raster/input-errors";
import { createBlockDecoder } from "../../src/wasm/decode";
import decodeModule from "../../wasm/build/decode.wasm";
import {
	type BitWriter,
	blockHeader,
	dynamicHeader,
	dynamicPreamble,
	fixedMatch,
	fixedSymbol,
	storedBlock,
	zlibStream,
} from "../deflate-writer";
import landsat from "../fixtures/landsat_rn_float32.tif";
import deflatePred3Red from "../fixtures/layouts/deflate_pred3_red.tif";
import l2a from "../fixtures/s2_l2a_6band_pb04.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { seededRandom } from "../random";
import { storedBlocks } from "../stored-blocks";

const decoder = createBlockDecoder(decodeModule);

/** node:zlib's answer: the bytes, or its refusal. */
function zlibInflate(stream: Uint8Array): Uint8Array | Error {
	try {
		return new Uint8Array(inflateSync(stream));
	} catch (error) {
		return error as Error;
	}
}

function inflated(stream: Uint8Array, maxBytes: number): Uint8Array | RasterInputError {
	try {
		return decoder.inflate(stream, maxBytes);
	} catch (error) {
		if (error instanceof RasterInputError) return error;
		throw error;
	}
}

/** Bytes of several kinds: noise of a chosen alphabet, runs, and repeats at chosen distances. */
function sampleData(random: () => number, length: number): Uint8Array {
	const data = new Uint8Array(length);
	const alphabet = 1 + Math.floor(random() * 256);
	for (let i = 0; i < length; ) {
		const kind = random();
		const span = Math.min(length - i, 1 + Math.floor(random() * 400));
		if (kind < 0.4 || i === 0) {
			for (let j = 0; j < span; j++) data[i + j] = Math.floor(random() * alphabet);
		} else if (kind < 0.55) {
			data.fill(Math.floor(random() * 256), i, i + span);
		} else {
			// A repeat from up to 32 KiB back, overlapping itself when the distance is short.
			const distance = 1 + Math.floor(random() ** 3 * Math.min(i, 32768));
			for (let j = 0; j < span; j++) data[i + j] = data[i + j - distance] as number;
		}
		i += span;
	}
	return data;
}

/** UInt16 samples of a noisy field, as GDAL writes them with predictor 2 (differences, little-endian). */
function differencedSamples(random: () => number, width: number, rows: number): Uint8Array {
	const samples = new Uint16Array(width * rows);
	for (let y = 0; y < rows; y++) {
		let previous = 0;
		for (let x = 0; x < width; x++) {
			const value = Math.round(2000 + 500 * Math.sin((x + y) / 40) + (random() - 0.5) * 60);
			samples[y * width + x] = (value - previous) & 0xffff;
			previous = value;
		}
	}
	return new Uint8Array(samples.buffer);
}

describe("Wasm inflate: what encoders write", () => {
	const random = seededRandom(12);
	const inputs: [string, Uint8Array][] = [
		["empty", new Uint8Array(0)],
		["one byte", Uint8Array.of(7)],
		["differenced UInt16 samples", differencedSamples(random, 256, 64)],
		...Array.from({ length: 6 }, (_, i): [string, Uint8Array] => [
			`mixed bytes #${i}`,
			sampleData(random, [100, 1000, 40_000, 70_000, 5000, 100_000][i] as number),
		]),
	];

	it.each(inputs)("%s: pako at every level and strategy", (_, data) => {
		for (let level = 0; level <= 9; level++) {
			for (const strategy of [0, 1, 2, 3, 4]) {
				const stream = pakoDeflate(data, { level: level as 0, strategy });
				expect(decoder.inflate(stream, data.length)).toEqual(data);
			}
		}
	});

	it.each(inputs)("%s: fflate at every level", (_, data) => {
		for (let level = 0; level <= 9; level++) {
			expect(decoder.inflate(zlibSync(data, { level: level as 0 }), data.length)).toEqual(data);
		}
	});

	it.each(inputs)("%s: node:zlib with small windows and memory levels", (_, data) => {
		for (const windowBits of [9, 12, 15]) {
			for (const memLevel of [1, 8, 9]) {
				const stream = deflateSync(data, { windowBits, memLevel, level: 9 });
				expect(decoder.inflate(stream, data.length)).toEqual(data);
			}
		}
	});

	it("returns a stream that ends before its bound at its length", () => {
		const data = sampleData(seededRandom(3), 5000);
		const stream = deflateSync(data);
		expect(decoder.inflate(stream, 5000)).toEqual(data);
		expect(decoder.inflate(stream, 9000)).toEqual(data);
	});

	it("returns a copy whose buffer is its own", () => {
		const data = sampleData(seededRandom(4), 3000);
		const out = decoder.inflate(deflateSync(data), 4000);
		expect(out.byteOffset).toBe(0);
		expect(out.buffer.byteLength).toBe(3000);
	});
});

describe("Wasm inflate: blocks GDAL wrote", () => {
	it.each([
		["s2_red_256.tif", red256],
		["s2_nir_256.tif", nir256],
		["s2_l2a_6band_pb04.tif", l2a],
		["landsat_rn_float32.tif", landsat],
		["layouts/deflate_pred3_red.tif", deflatePred3Red],
	])("%s: every block, as node:zlib inflates it", async (_, file) => {
		const { compression, blocks } = await storedBlocks(file);
		expect(compression).toBe(8);
		for (const { stored, decodedBytes } of blocks) {
			expect(decoder.inflate(stored, decodedBytes)).toEqual(zlibInflate(stored));
		}
	});
});

describe("Wasm inflate: hand-made blocks", () => {
	it("copies a match from exactly 32768 bytes back, and the longest match", () => {
		const random = seededRandom(5);
		const window = Uint8Array.from({ length: 32768 }, () => Math.floor(random() * 256));
		const expected = new Uint8Array(32768 + 258 + 258 + 100);
		expected.set(window);
		let at = 32768;
		for (const [length, distance] of [
			[258, 32768],
			[258, 1],
			[100, 32768],
		] as const) {
			for (let i = 0; i < length; i++, at++) expected[at] = expected[at - distance] as number;
		}
		const stream = zlibStream((w) => {
			storedBlock(w, false, window);
			blockHeader(w, true, 1);
			fixedMatch(w, 258, 32768);
			fixedMatch(w, 258, 1);
			fixedMatch(w, 100, 32768);
			fixedSymbol(w, 256);
		}, expected);
		expect(decoder.inflate(stream, expected.length)).toEqual(expected);
		expect(zlibInflate(stream)).toEqual(expected);
	});

	it("copies overlapping matches at every short distance", () => {
		const matches = [3, 9, 17, 258];
		const expected: number[] = [];
		for (let distance = 1; distance <= 40; distance++) {
			for (let i = 0; i < distance; i++) expected.push((distance * 7 + i * 13) & 0xff);
			for (const length of matches) {
				for (let i = 0; i < length; i++) expected.push(expected[expected.length - distance] as number);
			}
		}
		const output = Uint8Array.from(expected);
		const stream = zlibStream((w) => {
			blockHeader(w, true, 1);
			for (let distance = 1; distance <= 40; distance++) {
				for (let i = 0; i < distance; i++) fixedSymbol(w, (distance * 7 + i * 13) & 0xff);
				for (const length of matches) fixedMatch(w, length, distance);
			}
			fixedSymbol(w, 256);
		}, output);
		expect(decoder.inflate(stream, output.length)).toEqual(output);
		expect(zlibInflate(stream)).toEqual(output);
	});

	it("decodes a dynamic block with no distance code, and one with a single one-bit distance code", () => {
		// Literal/length code: 'A', 'B', end of block and length 3, two bits each (a complete code).
		const litlen = Array.from({ length: 258 }, (_, symbol) => ([65, 66, 256, 257].includes(symbol) ? 2 : 0));
		const writeSymbols = (w: BitWriter, symbols: number[]) => {
			for (const symbol of symbols) w.code([65, 66, 256, 257].indexOf(symbol), 2);
		};
		const literalsOnly = Uint8Array.from([65, 66, 66, 65]);
		const noDistances = zlibStream((w) => {
			dynamicHeader(w, true, litlen, [0]);
			writeSymbols(w, [65, 66, 66, 65, 256]);
		}, literalsOnly);
		expect(decoder.inflate(noDistances, 100)).toEqual(literalsOnly);

		const withMatch = Uint8Array.from([65, 66, 66, 65, 65, 65, 65]);
		const oneDistance = zlibStream((w) => {
			dynamicHeader(w, true, litlen, [1]);
			writeSymbols(w, [65, 66, 66, 65, 257]);
			w.code(0, 1);
			writeSymbols(w, [256]);
		}, withMatch);
		expect(decoder.inflate(oneDistance, 100)).toEqual(withMatch);
		expect(zlibInflate(oneDistance)).toEqual(withMatch);
	});

	it("decodes dynamic, fixed and dynamic blocks in turn, each by its own codes", () => {
		// Two-bit codes fill an 11-bit main table by repetition; the fixed codes take its place
		// for one block, then the next dynamic block's replace them.
		const litlen = Array.from({ length: 258 }, (_, symbol) => ([65, 66, 256, 257].includes(symbol) ? 2 : 0));
		const writeSymbols = (w: BitWriter, symbols: number[]) => {
			for (const symbol of symbols) w.code([65, 66, 256, 257].indexOf(symbol), 2);
		};
		const expected = Uint8Array.from([65, 66, 67, 200, 66, 65, 65, 65, 65]);
		const stream = zlibStream((w) => {
			dynamicHeader(w, false, litlen, [0]);
			writeSymbols(w, [65, 66, 256]);
			blockHeader(w, false, 1);
			fixedSymbol(w, 67);
			fixedSymbol(w, 200);
			fixedSymbol(w, 256);
			dynamicHeader(w, true, litlen, [1]);
			writeSymbols(w, [66, 65, 257]);
			w.code(0, 1);
			writeSymbols(w, [256]);
		}, expected);
		expect(zlibInflate(stream)).toEqual(expected);
		expect(decoder.inflate(stream, 100)).toEqual(expected);
	});

	it("reads stored blocks of every size, empty ones included, between compressed ones", () => {
		const random = seededRandom(6);
		const parts = [0, 1, 7, 65535, 0, 300].map((length) =>
			Uint8Array.from({ length }, () => Math.floor(random() * 256)),
		);
		const expected = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0) + 1);
		let at = 0;
		for (const part of parts) {
			expected.set(part, at);
			at += part.length;
		}
		expected[at] = 9;
		const stream = zlibStream((w) => {
			for (const part of parts) storedBlock(w, false, part);
			blockHeader(w, true, 1);
			fixedSymbol(w, 9);
			fixedSymbol(w, 256);
		}, expected);
		expect(decoder.inflate(stream, expected.length)).toEqual(expected);
	});
});

describe("Wasm inflate: malformed streams", () => {
	const refusal = (stream: Uint8Array, maxBytes: number) => () => decoder.inflate(stream, maxBytes);
	const output = Uint8Array.of(1, 2, 3);
	const fixed = (body: (w: BitWriter) => void) =>
		zlibStream((w) => {
			blockHeader(w, true, 1);
			body(w);
		}, output);

	it("refuses a stream one byte longer than its bound, and a bomb, at the bound", () => {
		const data = sampleData(seededRandom(7), 4097);
		expect(refusal(deflateSync(data), 4096)).toThrow("Deflate: the block inflates past 4096 bytes");
		const bomb = deflateSync(new Uint8Array(16 * 1024 * 1024));
		expect(bomb.length).toBeLessThan(64 * 1024);
		expect(refusal(bomb, 65536)).toThrow("Deflate: the block inflates past 65536 bytes");
		expect(refusal(deflateSync(data), 0)).toThrow("inflates past 0 bytes");
	});

	it.each([
		["a bad check", Uint8Array.of(0x78, 0x02, 0x03, 0x00), "incorrect header check"],
		["a method other than 8", Uint8Array.of(0x77, 0x09, 0x03, 0x00), "incorrect header check"],
		["a preset dictionary", Uint8Array.of(0x78, 0x20, 0, 0, 0, 0), "incorrect header check"],
		["a window over 32 KiB", Uint8Array.of(0x88, 0x1c, 0x03, 0x00), "incorrect header check"],
	])("refuses a header with %s", (_, stream, message) => {
		expect(refusal(stream, 10)).toThrow(`Deflate: the block does not inflate (${message})`);
	});

	it.each([
		["block type 3", (w: BitWriter) => blockHeader(w, true, 3), "invalid block type"],
		[
			"a stored block whose length's complement is wrong",
			(w: BitWriter) => {
				blockHeader(w, true, 0);
				w.alignToByte();
				w.bits(3, 16);
				w.bits(3, 16);
			},
			"invalid stored block lengths",
		],
		[
			"literal/length code 286",
			(w: BitWriter) => {
				blockHeader(w, true, 1);
				fixedSymbol(w, 286);
			},
			"invalid literal/length code",
		],
		[
			"literal/length code 287",
			(w: BitWriter) => {
				blockHeader(w, true, 1);
				fixedSymbol(w, 287);
			},
			"invalid literal/length code",
		],
		[
			"distance code 30",
			(w: BitWriter) => {
				blockHeader(w, true, 1);
				fixedSymbol(w, 65);
				fixedSymbol(w, 257);
				w.code(30, 5);
			},
			"invalid distance code",
		],
		[
			"distance code 31",
			(w: BitWriter) => {
				blockHeader(w, true, 1);
				fixedSymbol(w, 65);
				fixedSymbol(w, 257);
				w.code(31, 5);
			},
			"invalid distance code",
		],
		[
			"a distance past the start of the output",
			(w: BitWriter) => {
				blockHeader(w, true, 1);
				fixedSymbol(w, 65);
				fixedMatch(w, 3, 2);
				fixedSymbol(w, 256);
			},
			"invalid distance too far back",
		],
		[
			"more than 286 literal/length codes",
			(w: BitWriter) => dynamicHeader(w, true, new Array(287).fill(8), [5]),
			"too many length or distance symbols",
		],
		[
			"more than 30 distance codes",
			(w: BitWriter) => dynamicHeader(w, true, new Array(257).fill(8), new Array(31).fill(5)),
			"too many length or distance symbols",
		],
		[
			"no end-of-block code",
			(w: BitWriter) => dynamicHeader(w, true, [...new Array(256).fill(8), 0], [1]),
			"invalid code -- missing end-of-block",
		],
		[
			"an over-subscribed literal/length code",
			(w: BitWriter) => dynamicHeader(w, true, new Array(257).fill(1), [1]),
			"invalid literal/lengths set",
		],
		[
			"an incomplete literal/length code of several codewords",
			(w: BitWriter) => dynamicHeader(w, true, new Array(257).fill(15), [1]),
			"invalid literal/lengths set",
		],
		[
			"an over-subscribed distance code",
			(w: BitWriter) => dynamicHeader(w, true, new Array(257).fill(0).fill(1, 255), [1, 1, 1]),
			"invalid distances set",
		],
		[
			"a repeat before any length",
			(w: BitWriter) => {
				dynamicPreamble(w, true, 257, 1, [...Array.from({ length: 15 }, (_, i) => i), 16]);
				w.code(15, 4);
				w.bits(0, 2);
			},
			"invalid bit length repeat",
		],
		[
			"a run of zeros past the last length",
			(w: BitWriter) => {
				dynamicPreamble(w, true, 257, 1, [...Array.from({ length: 15 }, (_, i) => i), 18]);
				for (let i = 0; i < 3; i++) {
					w.code(15, 4);
					w.bits(127, 7);
				}
			},
			"invalid bit length repeat",
		],
		[
			"an over-subscribed code length code",
			(w: BitWriter) => {
				blockHeader(w, true, 2);
				w.bits(0, 5);
				w.bits(0, 5);
				w.bits(15, 4);
				for (let i = 0; i < 19; i++) w.bits(1, 3);
			},
			"invalid code lengths set",
		],
	])("refuses %s", (_, body, message) => {
		const stream = zlibStream(body, output);
		expect(refusal(stream, 1000)).toThrow(`Deflate: the block does not inflate (${message})`);
		expect(zlibInflate(stream)).toBeInstanceOf(Error);
	});

	it("refuses a wrong checksum", () => {
		const stream = fixed((w) => {
			for (const byte of output) fixedSymbol(w, byte);
			fixedSymbol(w, 256);
		});
		expect(decoder.inflate(stream, 3)).toEqual(output);
		stream[stream.length - 1] = (stream.at(-1) as number) ^ 1;
		expect(refusal(stream, 3)).toThrow("Deflate: the block does not inflate (incorrect data check)");
	});

	it("refuses every cut of a stream short of its checksum's end, and of an empty one", () => {
		const data = sampleData(seededRandom(8), 3000);
		for (const stream of [deflateSync(data), pakoDeflate(data, { level: 0 }), deflateSync(new Uint8Array(0))]) {
			for (let length = 0; length < stream.length; length++) {
				expect(refusal(stream.subarray(0, length), data.length)).toThrow(/^Deflate: the block does not inflate/);
			}
		}
	});

	it("answers every corrupted stream as node:zlib does: the same bytes, or a refusal", () => {
		const random = seededRandom(9);
		for (let trial = 0; trial < 3000; trial++) {
			const data = sampleData(random, 1 + Math.floor(random() * 3000));
			const stream = trial % 2 ? deflateSync(data) : pakoDeflate(data, { strategy: trial % 5 });
			const corrupt = stream.slice();
			const flips = 1 + Math.floor(random() * 4);
			for (let i = 0; i < flips; i++) {
				const at = Math.floor(random() * corrupt.length);
				corrupt[at] = (corrupt[at] as number) ^ (1 << Math.floor(random() * 8));
			}
			const ours = inflated(corrupt, data.length);
			const theirs = zlibInflate(corrupt);
			if (theirs instanceof Error || theirs.length > data.length) {
				expect(ours).toBeInstanceOf(RasterInputError);
			} else {
				expect(ours).toEqual(theirs);
			}
		}
	});
});

describe("Wasm inflate with predictor 2", () => {
	it("undoes predictor 2 on what it inflates, and refuses a partial row", () => {
		const rows = Uint16Array.from({ length: 64 * 8 }, (_, i) => (i * 37) & 0xffff);
		const differenced = new Uint8Array(rows.buffer.slice(0));
		const words = new Uint16Array(differenced.buffer);
		for (let i = words.length - 1; i >= 0; i--) {
			if (i % 64 !== 0) words[i] = ((words[i] as number) - (words[i - 1] as number)) & 0xffff;
		}
		const stream = deflateSync(differenced);
		const block = { rowSamples: 64, stride: 1, bytesPerSample: 2 };
		expect(new Uint16Array(decoder.inflate(stream, differenced.length, block).buffer)).toEqual(rows);
		const partial = deflateSync(differenced.subarray(0, 130));
		expect(() => decoder.inflate(partial, differenced.length, block)).toThrow(/not whole rows of 128/);
	});
});
