/**
 * Hand-made zlib streams (RFC 1950/1951) for the inflate tests: blocks whose every bit a test
 * chooses, so that cases an encoder never writes (a match at distance 32768, codes 286 and 287,
 * a repeat before any length) can be tried.
 */

export const LENGTH_BASE = [
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
	8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA = [
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
export const PRECODE_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Bits packed least significant first, as Deflate stores them. */
export class BitWriter {
	readonly bytes: number[] = [];
	#byte = 0;
	#count = 0;

	bit(bit: number): void {
		this.#byte |= (bit & 1) << this.#count;
		if (++this.#count === 8) this.#flush();
	}

	/** `count` bits of `value`, least significant first: header fields and extra bits. */
	bits(value: number, count: number): void {
		for (let i = 0; i < count; i++) this.bit(value >>> i);
	}

	/** A Huffman codeword, most significant bit first. */
	code(codeword: number, length: number): void {
		for (let i = length - 1; i >= 0; i--) this.bit(codeword >>> i);
	}

	alignToByte(): void {
		if (this.#count > 0) this.#flush();
	}

	#flush(): void {
		this.bytes.push(this.#byte);
		this.#byte = 0;
		this.#count = 0;
	}
}

/** Block header: BFINAL and BTYPE (0 stored, 1 fixed, 2 dynamic, 3 reserved). */
export function blockHeader(w: BitWriter, last: boolean, type: number): void {
	w.bits(last ? 1 : 0, 1);
	w.bits(type, 2);
}

export function storedBlock(w: BitWriter, last: boolean, data: Uint8Array): void {
	blockHeader(w, last, 0);
	w.alignToByte();
	w.bits(data.length, 16);
	w.bits(~data.length & 0xffff, 16);
	for (const byte of data) w.bits(byte, 8);
}

/** A literal/length symbol of the fixed Huffman code (RFC 1951 3.2.6). */
export function fixedSymbol(w: BitWriter, symbol: number): void {
	if (symbol < 144) w.code(0x30 + symbol, 8);
	else if (symbol < 256) w.code(0x190 + symbol - 144, 9);
	else if (symbol < 280) w.code(symbol - 256, 7);
	else w.code(0xc0 + symbol - 280, 8);
}

/** A match in a fixed Huffman block: its length symbol and extra bits, then its distance's. */
export function fixedMatch(w: BitWriter, length: number, distance: number): void {
	const lengthIndex = length === 258 ? 28 : LENGTH_BASE.findLastIndex((base) => base <= length);
	fixedSymbol(w, 257 + lengthIndex);
	w.bits(length - (LENGTH_BASE[lengthIndex] as number), LENGTH_EXTRA[lengthIndex] as number);
	const distanceIndex = DISTANCE_BASE.findLastIndex((base) => base <= distance);
	w.code(distanceIndex, 5);
	w.bits(distance - (DISTANCE_BASE[distanceIndex] as number), DISTANCE_EXTRA[distanceIndex] as number);
}

/**
 * A dynamic block's header sending the given code lengths (0 to 15), each as a 4-bit codeword
 * of a code length code without repeats.
 */
export function dynamicHeader(
	w: BitWriter,
	last: boolean,
	litlenLengths: readonly number[],
	distanceLengths: readonly number[],
): void {
	const lengthSymbols = Array.from({ length: 16 }, (_, i) => i);
	dynamicPreamble(w, last, litlenLengths.length, distanceLengths.length, lengthSymbols);
	for (const length of [...litlenLengths, ...distanceLengths]) w.code(length, 4);
}

/**
 * A dynamic block's header up to its code lengths: the counts, and a code length code in which
 * the 16 symbols `precodeSymbols` have 4-bit codewords (a symbol's codeword is its rank).
 */
export function dynamicPreamble(
	w: BitWriter,
	last: boolean,
	litlenCount: number,
	distanceCount: number,
	precodeSymbols: readonly number[],
): void {
	blockHeader(w, last, 2);
	w.bits(litlenCount - 257, 5);
	w.bits(distanceCount - 1, 5);
	w.bits(19 - 4, 4);
	for (const symbol of PRECODE_ORDER) w.bits(precodeSymbols.includes(symbol) ? 4 : 0, 3);
}

export function adler32(data: Uint8Array): number {
	let a = 1;
	let b = 0;
	for (const byte of data) {
		a = (a + byte) % 65521;
		b = (b + a) % 65521;
	}
	return ((b << 16) | a) >>> 0;
}

/** A zlib stream: header (32 KiB window, no dictionary), the blocks, then `output`'s Adler-32. */
export function zlibStream(blocks: (w: BitWriter) => void, output: Uint8Array): Uint8Array {
	const w = new BitWriter();
	w.bits(0x78, 8);
	w.bits(0x01, 8);
	blocks(w);
	w.alignToByte();
	const check = adler32(output);
	for (const shift of [24, 16, 8, 0]) w.bits((check >>> shift) & 0xff, 8);
	return Uint8Array.from(w.bytes);
}
