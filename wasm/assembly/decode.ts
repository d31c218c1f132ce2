// The block decoders of the raster read path: zlib inflate (TIFF Deflate), TIFF LZW, and TIFF
// predictor 2 undone in place, each a pure function over pointers and lengths that
// src/wasm/decode.ts lays out after heap_base().
//
// Every decoder writes at most `maxBytes` bytes of output, and may scribble up to
// OUTPUT_SLACK bytes past its last byte (whole 8- and 16-byte copies); it reads up to
// INPUT_PADDING bytes past the input, which the caller zeroes. Neither ever loops longer than
// its input and output allow: every loop either consumes input, produces bounded output, or
// fails. Errors are returned as negative codes (below), never trapped.
//
// The inflate follows libdeflate's design: a 64-bit bit buffer refilled a word at a time
// without a branch, decode tables of 11 (literal/length) and 8 (distance) bits whose entries
// hold everything a symbol needs (value, codeword length, extra bits), up to three literals
// per refill, and match copies of whole 8- or 16-byte words.

/** First byte of linear memory free for the caller's buffers. */
export function heap_base(): usize {
	return __heap_base;
}

/** Zeroed bytes the caller places after the input. */
export const INPUT_PADDING: usize = 16;
/** Bytes past `maxBytes` that the output may be written to. */
export const OUTPUT_SLACK: usize = 64;

export function input_padding(): usize {
	return INPUT_PADDING;
}
export function output_slack(): usize {
	return OUTPUT_SLACK;
}

// Error codes (the caller words them; see src/wasm/decode.ts).
const TOO_LONG: i32 = -1;
const TRUNCATED: i32 = -2;
const BAD_HEADER: i32 = -3;
const BAD_BLOCK_TYPE: i32 = -4;
const BAD_STORED_LENGTH: i32 = -5;
const BAD_CODE_LENGTHS: i32 = -6;
const BAD_REPEAT: i32 = -7;
const BAD_LITLEN_CODE: i32 = -8;
const BAD_DISTANCE_CODE: i32 = -9;
const DISTANCE_TOO_FAR: i32 = -10;
const BAD_CHECKSUM: i32 = -11;
const NO_END_OF_BLOCK: i32 = -12;
const TOO_MANY_SYMBOLS: i32 = -13;
const BAD_LITLEN_LENGTHS: i32 = -14;
const BAD_DISTANCE_LENGTHS: i32 = -15;
const LZW_BAD_CODE: i32 = -16;

/** More about the last error: for LZW_BAD_CODE, the code | the next free code << 16. */
let errorDetail: i32 = 0;
export function error_detail(): i32 {
	return errorDetail;
}

// ---------------------------------------------------------------------------------------------
// Inflate: decode tables
//
// A table entry (u32) says what a codeword decodes to and how many bits it takes:
//   literal:          bit 31 set, bits 23-16 the byte, bits 4-0 the codeword length; in the
//                     main literal/length table (see pairLiterals), bits 15-8 the byte and,
//                     with bit 30 (PAIR), bits 23-16 a second literal whose codeword follows
//                     within the table's bits, bits 4-0 both codewords' length
//   length:           bits 24-16 the length base, bits 11-8 the codeword length, bits 4-0 the
//                     codeword length plus the extra bits
//   distance:         bits 31-16 the distance base, then as a length
//   end of block:     EXCEPTIONAL | END_OF_BLOCK, bits 4-0 the codeword length
//   invalid symbol:   EXCEPTIONAL alone (literal/length 286 and 287, distances 30 and 31)
//   subtable pointer: EXCEPTIONAL | SUBTABLE, bits 30-16 the subtable's start, bits 11-8 its
//                     index bits, bits 4-0 the main table's bits
// The extra bits of a length or distance are (bits & mask(bits 4-0)) >> (bits 11-8), read from
// the bit buffer as it was before the entry's bits were consumed.

const LITERAL: u32 = 0x80000000;
const PAIR: u32 = 0x40000000;
const EXCEPTIONAL: u32 = 0x8000;
const SUBTABLE: u32 = 0x4000;
const END_OF_BLOCK: u32 = 0x2000;

const LITLEN_SYMBOLS: i32 = 288;
const DISTANCE_SYMBOLS: i32 = 32;
const PRECODE_SYMBOLS: i32 = 19;
const LITLEN_TABLE_BITS: u32 = 11;
const DISTANCE_TABLE_BITS: u32 = 8;
const PRECODE_TABLE_BITS: u32 = 7;
const MAX_CODEWORD_BITS: u32 = 15;
const MAX_PRECODE_BITS: u32 = 7;
// Every main table fills all its index bits, even for a code whose codewords are all shorter
// (its entries then repeat), and the fixed codes' tables are copied where the dynamic codes'
// are built: the decode loops then look codes up by these constant masks at constant addresses,
// four values fewer for V8 to keep in registers (the bench:decode tiles inflated in 5% less
// time than with the table and mask of each block in variables).
const LITLEN_MASK: u32 = ((<u32>1) << LITLEN_TABLE_BITS) - 1;
const DISTANCE_MASK: u32 = ((<u32>1) << DISTANCE_TABLE_BITS) - 1;
const PRECODE_MASK: u32 = ((<u32>1) << PRECODE_TABLE_BITS) - 1;
// The most entries a table and its subtables can need (zlib's `enough` for these sizes).
const LITLEN_ENOUGH: i32 = 2342;
const DISTANCE_ENOUGH: i32 = 402;
const PRECODE_ENOUGH: i32 = 128;

const LENGTH_BASE: StaticArray<u16> = [
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA: StaticArray<u8> = [
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: StaticArray<u16> = [
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
	8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: StaticArray<u8> = [
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
/** Order in which a dynamic block sends the code length code's lengths. */
const PRECODE_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/** For distances 2 to 7: the smallest multiple of the distance that is at least 8. */
const PATTERN_PERIOD: StaticArray<u8> = [0, 0, 8, 9, 8, 10, 12, 14];

// Tables in static memory (below heap_base), so the caller's buffers never overlap them.
const litlenTable = memory.data(LITLEN_ENOUGH * 4);
const distanceTable = memory.data(DISTANCE_ENOUGH * 4);
// The fixed codes need no subtables (no codeword longer than the main tables' bits).
const fixedLitlenTable = memory.data((1 << LITLEN_TABLE_BITS) * 4);
const fixedDistanceTable = memory.data((1 << DISTANCE_TABLE_BITS) * 4);
const precodeTable = memory.data(PRECODE_ENOUGH * 4);
/** What each symbol decodes to, before the codeword length is added (see makeEntry). */
const litlenResults = memory.data(LITLEN_SYMBOLS * 4);
const distanceResults = memory.data(DISTANCE_SYMBOLS * 4);
const precodeResults = memory.data(PRECODE_SYMBOLS * 4);
/** Code lengths of one block: literal/length then distance, as the header sends them. */
const headerLengths = memory.data(LITLEN_SYMBOLS + DISTANCE_SYMBOLS);
const litlenLengths = memory.data(LITLEN_SYMBOLS);
const distanceLengths = memory.data(DISTANCE_SYMBOLS);
const precodeLengths = memory.data(PRECODE_SYMBOLS);
const lengthCounts = memory.data((MAX_CODEWORD_BITS + 1) * 4);
const lengthOffsets = memory.data((MAX_CODEWORD_BITS + 2) * 4);
const sortedSymbols = memory.data(LITLEN_SYMBOLS * 2);

let tablesReady = false;

function prepareTables(): void {
	for (let s = 0; s < 256; s++) store<u32>(litlenResults + ((<usize>s) << 2), LITERAL | ((<u32>s) << 16));
	store<u32>(litlenResults + (256 << 2), EXCEPTIONAL | END_OF_BLOCK);
	for (let s = 0; s < 29; s++) {
		store<u32>(litlenResults + ((<usize>(257 + s)) << 2), ((<u32>LENGTH_BASE[s]) << 16) | <u32>LENGTH_EXTRA[s]);
	}
	store<u32>(litlenResults + (286 << 2), EXCEPTIONAL);
	store<u32>(litlenResults + (287 << 2), EXCEPTIONAL);
	for (let s = 0; s < 30; s++) {
		store<u32>(distanceResults + ((<usize>s) << 2), ((<u32>DISTANCE_BASE[s]) << 16) | <u32>DISTANCE_EXTRA[s]);
	}
	store<u32>(distanceResults + (30 << 2), EXCEPTIONAL);
	store<u32>(distanceResults + (31 << 2), EXCEPTIONAL);
	for (let s = 0; s < PRECODE_SYMBOLS; s++) store<u32>(precodeResults + ((<usize>s) << 2), (<u32>s) << 16);

	// The fixed Huffman codes (RFC 1951 3.2.6).
	for (let s = 0; s < 144; s++) store<u8>(litlenLengths + s, 8);
	for (let s = 144; s < 256; s++) store<u8>(litlenLengths + s, 9);
	for (let s = 256; s < 280; s++) store<u8>(litlenLengths + s, 7);
	for (let s = 280; s < 288; s++) store<u8>(litlenLengths + s, 8);
	for (let s = 0; s < DISTANCE_SYMBOLS; s++) store<u8>(distanceLengths + s, 5);
	buildTable(fixedLitlenTable, litlenLengths, LITLEN_SYMBOLS, litlenResults, LITLEN_TABLE_BITS, MAX_CODEWORD_BITS);
	pairLiterals(fixedLitlenTable);
	buildTable(
		fixedDistanceTable,
		distanceLengths,
		DISTANCE_SYMBOLS,
		distanceResults,
		DISTANCE_TABLE_BITS,
		MAX_CODEWORD_BITS,
	);
	tablesReady = true;
}

function makeEntry(results: usize, symbol: u32, length: u32): u32 {
	return load<u32>(results + ((<usize>symbol) << 2)) + (length << 8) + length;
}

/**
 * Builds the decode table of a canonical Huffman code from its code lengths (libdeflate's
 * build_decode_table), its main table `tableBits` bits wide whatever the codewords' lengths.
 * Returns false when the lengths do not form a valid code: over-subscribed,
 * or incomplete other than with a single codeword of one bit (both codewords then decode to the
 * one symbol) or none at all (every entry invalid), which zlib accepts too.
 */
function buildTable(table: usize, lengths: usize, symbols: i32, results: usize, tableBits: u32, maxBits: u32): bool {
	for (let len: u32 = 0; len <= maxBits; len++) store<u32>(lengthCounts + ((<usize>len) << 2), 0);
	for (let s = 0; s < symbols; s++) {
		const at = lengthCounts + ((<usize>load<u8>(lengths + s)) << 2);
		store<u32>(at, load<u32>(at) + 1);
	}
	let maxLength = maxBits;
	while (maxLength > 1 && load<u32>(lengthCounts + ((<usize>maxLength) << 2)) === 0) maxLength--;

	// Symbols sorted by codeword length, then by value: the canonical codewords' order.
	store<u32>(lengthOffsets, 0);
	store<u32>(lengthOffsets + 4, load<u32>(lengthCounts));
	let codespace: u32 = 0;
	let len: u32 = 1;
	for (; len < maxLength; len++) {
		const count = load<u32>(lengthCounts + ((<usize>len) << 2));
		store<u32>(lengthOffsets + ((<usize>(len + 1)) << 2), load<u32>(lengthOffsets + ((<usize>len) << 2)) + count);
		codespace = (codespace << 1) + count;
	}
	codespace = (codespace << 1) + load<u32>(lengthCounts + ((<usize>len) << 2));
	for (let s = 0; s < symbols; s++) {
		const at = lengthOffsets + ((<usize>load<u8>(lengths + s)) << 2);
		const index = load<u32>(at);
		store<u32>(at, index + 1);
		store<u16>(sortedSymbols + ((<usize>index) << 1), <u16>s);
	}
	let sorted = sortedSymbols + ((<usize>load<u32>(lengthCounts)) << 1);

	if (codespace > (<u32>1) << maxLength) return false;
	if (codespace < (<u32>1) << maxLength) {
		// No codeword at all: every entry is invalid (a distance code of a block of literals).
		let entry: u32 = EXCEPTIONAL | 1;
		if (codespace !== 0) {
			if (codespace !== (<u32>1) << (maxLength - 1) || load<u32>(lengthCounts + 4) !== 1) return false;
			entry = makeEntry(results, load<u16>(sorted), 1);
		}
		for (let i: u32 = 0; i < (<u32>1) << tableBits; i++) store<u32>(table + ((<usize>i) << 2), entry);
		return true;
	}

	// A complete code: codewords of up to tableBits bits fill the main table, growing it by
	// doubling as the length grows (codewords are bit-reversed, so each one is a single entry
	// of a table 2^len long).
	let codeword: u32 = 0;
	len = 1;
	let count = load<u32>(lengthCounts + ((<usize>len) << 2));
	while (count === 0) count = load<u32>(lengthCounts + ((<usize>++len) << 2));
	let tableEnd: u32 = (<u32>1) << len;
	while (len <= tableBits) {
		do {
			store<u32>(table + ((<usize>codeword) << 2), makeEntry(results, load<u16>(sorted), len));
			sorted += 2;
			if (codeword === tableEnd - 1) {
				for (; len < tableBits; len++) {
					memory.copy(table + ((<usize>tableEnd) << 2), table, (<usize>tableEnd) << 2);
					tableEnd <<= 1;
				}
				return true;
			}
			const bit: u32 = (<u32>1) << (31 - clz<u32>(codeword ^ (tableEnd - 1)));
			codeword &= bit - 1;
			codeword |= bit;
		} while (--count);
		do {
			if (++len <= tableBits) {
				memory.copy(table + ((<usize>tableEnd) << 2), table, (<usize>tableEnd) << 2);
				tableEnd <<= 1;
			}
			count = load<u32>(lengthCounts + ((<usize>len) << 2));
		} while (count === 0);
	}

	// Longer codewords go to subtables, one per distinct prefix of tableBits bits.
	tableEnd = (<u32>1) << tableBits;
	let prefix: u32 = 0xffffffff;
	let subtableStart: u32 = 0;
	for (;;) {
		if ((codeword & (((<u32>1) << tableBits) - 1)) !== prefix) {
			prefix = codeword & (((<u32>1) << tableBits) - 1);
			subtableStart = tableEnd;
			let subtableBits = len - tableBits;
			let used = count;
			while (used < (<u32>1) << subtableBits) {
				subtableBits++;
				used = (used << 1) + load<u32>(lengthCounts + ((<usize>(tableBits + subtableBits)) << 2));
			}
			tableEnd = subtableStart + ((<u32>1) << subtableBits);
			store<u32>(
				table + ((<usize>prefix) << 2),
				(subtableStart << 16) | EXCEPTIONAL | SUBTABLE | (subtableBits << 8) | tableBits,
			);
		}
		const entry = makeEntry(results, load<u16>(sorted), len - tableBits);
		sorted += 2;
		const stride: u32 = (<u32>1) << (len - tableBits);
		for (let i = subtableStart + (codeword >> tableBits); i < tableEnd; i += stride) {
			store<u32>(table + ((<usize>i) << 2), entry);
		}
		if (codeword === ((<u32>1) << len) - 1) return true;
		const bit: u32 = (<u32>1) << (31 - clz<u32>(codeword ^ (((<u32>1) << len) - 1)));
		codeword &= bit - 1;
		codeword |= bit;
		count--;
		while (count === 0) count = load<u32>(lengthCounts + ((<usize>++len) << 2));
	}
	// biome-ignore lint/correctness/noUnreachable: AssemblyScript wants a return after the endless loop.
	return false;
}

/**
 * Rewrites the literals of a main literal/length table (2^LITLEN_TABLE_BITS entries) so that one lookup
 * gives two literals when the second codeword lies within the same bits: literal-heavy blocks
 * (noise, as in the low bytes of predicted samples) then decode two bytes per lookup. Entries
 * are read before they are rewritten: the second codeword's entry, at `index >> length`, lies
 * below `index`, so the table is walked from the top down.
 */
function pairLiterals(table: usize): void {
	const bits = LITLEN_TABLE_BITS;
	for (let index: i32 = (1 << bits) - 1; index >= 0; index--) {
		const at = table + ((<usize>index) << 2);
		const first = load<u32>(at);
		if (<i32>first >= 0) continue;
		const firstBits = first & 0x1f;
		const firstByte = (first >> 16) & 0xff;
		const second = load<u32>(table + ((<usize>(<u32>index >> firstBits)) << 2));
		const bothBits = firstBits + (second & 0x1f);
		if (<i32>second < 0 && bothBits <= bits) {
			store<u32>(at, LITERAL | PAIR | (((second >> 16) & 0xff) << 16) | (firstByte << 8) | bothBits);
		} else {
			store<u32>(at, LITERAL | (firstByte << 8) | firstBits);
		}
	}
}

/** The error to report when decoding stopped at `code`: running out of input comes first. */
function failure(code: i32, inp: usize, bitsLeft: u32, inEnd: usize): i32 {
	// Bits consumed so far reach past the input: what was read there was padding.
	return <u64>inp * 8 - <u64>(bitsLeft & 0xff) > <u64>inEnd * 8 ? TRUNCATED : code;
}

/**
 * Inflates the zlib stream of `inputBytes` bytes at `input` (RFC 1950/1951) into `output`,
 * checking its Adler-32. Returns the bytes written, or an error code: TOO_LONG when the stream
 * holds more than `maxBytes`.
 */
export function inflate(input: usize, inputBytes: usize, output: usize, maxBytes: usize): i32 {
	if (!tablesReady) prepareTables();
	if (inputBytes < 2) return TRUNCATED;
	const cmf = <u32>load<u8>(input);
	const flg = <u32>load<u8>(input, 1);
	if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || (flg & 0x20) !== 0) return BAD_HEADER;

	const inEnd = input + inputBytes;
	// The last place a refill may load a word from: it reads into the zeroed padding.
	const inLimit = inEnd + INPUT_PADDING - 8;
	const outEnd = output + maxBytes;
	// Where the unchecked loop stops (see the block's symbols below).
	const inFastEnd = inputBytes > 32 ? inEnd - 32 : input;
	const outFastEnd = maxBytes > 300 ? outEnd - 300 : output;
	let inp = input + 2;
	let out = output;
	let bitbuf: u64 = 0;
	let bitsLeft: u32 = 0;
	let last = false;

	while (!last) {
		if (inp > inLimit) return TRUNCATED;
		bitbuf |= load<u64>(inp) << bitsLeft;
		inp += 7 - ((bitsLeft >> 3) & 7);
		// The symbol loops subtract whole entries from bitsLeft: only its low byte counts.
		bitsLeft = (bitsLeft | 56) & 0xff;

		last = (bitbuf & 1) !== 0;
		const type = <u32>(bitbuf >> 1) & 3;
		bitbuf >>= 3;
		bitsLeft -= 3;

		if (type === 0) {
			// Stored: from the next byte boundary, LEN and its complement, then LEN bytes.
			bitsLeft &= ~7;
			inp -= bitsLeft >> 3;
			bitbuf = 0;
			bitsLeft = 0;
			if (inp + 4 > inEnd) return TRUNCATED;
			const length = <u32>load<u16>(inp);
			if (length !== (~(<u32>load<u16>(inp, 2)) & 0xffff)) return BAD_STORED_LENGTH;
			inp += 4;
			if (<usize>length > inEnd - inp) return TRUNCATED;
			if (<usize>length > outEnd - out) return TOO_LONG;
			memory.copy(out, inp, length);
			out += length;
			inp += length;
			continue;
		} else if (type === 1) {
			// The fixed codes' tables where the loops look codes up.
			memory.copy(litlenTable, fixedLitlenTable, (<usize>1) << (LITLEN_TABLE_BITS + 2));
			memory.copy(distanceTable, fixedDistanceTable, (<usize>1) << (DISTANCE_TABLE_BITS + 2));
		} else if (type === 2) {
			// Dynamic: the counts, the code length code, then every code length.
			const litlenCount = <i32>(bitbuf & 0x1f) + 257;
			const distanceCount = <i32>((bitbuf >> 5) & 0x1f) + 1;
			const precodeCount = <i32>((bitbuf >> 10) & 0xf) + 4;
			bitbuf >>= 14;
			bitsLeft -= 14;
			if (litlenCount > 286 || distanceCount > 30) return failure(TOO_MANY_SYMBOLS, inp, bitsLeft, inEnd);
			for (let i = 0; i < PRECODE_SYMBOLS; i++) store<u8>(precodeLengths + PRECODE_ORDER[i], 0);
			for (let i = 0; i < precodeCount; i++) {
				if (bitsLeft < 3) {
					if (inp > inLimit) return TRUNCATED;
					bitbuf |= load<u64>(inp) << bitsLeft;
					inp += 7 - ((bitsLeft >> 3) & 7);
					bitsLeft |= 56;
				}
				store<u8>(precodeLengths + PRECODE_ORDER[i], <u8>(bitbuf & 7));
				bitbuf >>= 3;
				bitsLeft -= 3;
			}
			if (
				!buildTable(precodeTable, precodeLengths, PRECODE_SYMBOLS, precodeResults, PRECODE_TABLE_BITS, MAX_PRECODE_BITS)
			) {
				return failure(BAD_CODE_LENGTHS, inp, bitsLeft, inEnd);
			}
			const total = litlenCount + distanceCount;
			let i = 0;
			while (i < total) {
				if (bitsLeft < 14) {
					if (inp > inLimit) return TRUNCATED;
					bitbuf |= load<u64>(inp) << bitsLeft;
					inp += 7 - ((bitsLeft >> 3) & 7);
					bitsLeft |= 56;
				}
				// A codeword of the code length code is at most 7 bits: every entry is a symbol.
				const entry = load<u32>(precodeTable + ((<usize>(<u32>bitbuf & PRECODE_MASK)) << 2));
				bitbuf >>= entry & 0x1f;
				bitsLeft -= entry & 0x1f;
				const symbol = entry >> 16;
				if (symbol < 16) {
					store<u8>(headerLengths + i, <u8>symbol);
					i++;
					continue;
				}
				let repeat: i32;
				let value: u8 = 0;
				if (symbol === 16) {
					if (i === 0) return failure(BAD_REPEAT, inp, bitsLeft, inEnd);
					value = load<u8>(headerLengths + i - 1);
					repeat = 3 + <i32>(bitbuf & 3);
					bitbuf >>= 2;
					bitsLeft -= 2;
				} else if (symbol === 17) {
					repeat = 3 + <i32>(bitbuf & 7);
					bitbuf >>= 3;
					bitsLeft -= 3;
				} else {
					repeat = 11 + <i32>(bitbuf & 0x7f);
					bitbuf >>= 7;
					bitsLeft -= 7;
				}
				if (repeat > total - i) return failure(BAD_REPEAT, inp, bitsLeft, inEnd);
				memory.fill(headerLengths + i, value, repeat);
				i += repeat;
			}
			if (load<u8>(headerLengths + 256) === 0) return failure(NO_END_OF_BLOCK, inp, bitsLeft, inEnd);
			memory.copy(litlenLengths, headerLengths, litlenCount);
			memory.fill(litlenLengths + litlenCount, 0, LITLEN_SYMBOLS - litlenCount);
			memory.copy(distanceLengths, headerLengths + litlenCount, distanceCount);
			memory.fill(distanceLengths + distanceCount, 0, DISTANCE_SYMBOLS - distanceCount);
			if (
				!buildTable(litlenTable, litlenLengths, LITLEN_SYMBOLS, litlenResults, LITLEN_TABLE_BITS, MAX_CODEWORD_BITS)
			) {
				return failure(BAD_LITLEN_LENGTHS, inp, bitsLeft, inEnd);
			}
			pairLiterals(litlenTable);
			if (
				!buildTable(
					distanceTable,
					distanceLengths,
					DISTANCE_SYMBOLS,
					distanceResults,
					DISTANCE_TABLE_BITS,
					MAX_CODEWORD_BITS,
				)
			) {
				return failure(BAD_DISTANCE_LENGTHS, inp, bitsLeft, inEnd);
			}
		} else {
			return failure(BAD_BLOCK_TYPE, inp, bitsLeft, inEnd);
		}

		// The block's symbols, first in a loop that checks neither input nor output: it runs while
		// a whole iteration's reads (three refills of at most 7 bytes, each loading 8) stay in
		// the input and its writes (six literals, or a match of 258 bytes and its copy's 15 bytes
		// of overrun) in the output. Each iteration starts after a refill (at least 56 bits
		// buffered) with the next literal/length entry looked up: three lookups of the main
		// table take at most 11 + 11 + 16 bits (the last may be a length and its extra bits);
		// a distance (at most 28 bits) refills first when fewer are left, and the match's copy
		// comes after the next lookup, so the two overlap. An entry is consumed whole, as
		// libdeflate does: its low byte is its bit count (bits 5-7 clear), which is all that a
		// 64-bit shift reads of it, and only bitsLeft's low byte counts until the next block.
		let blockDone = false;
		if (inp < inFastEnd && out < outFastEnd) {
			bitbuf |= load<u64>(inp) << bitsLeft;
			inp += 7 - ((bitsLeft >> 3) & 7);
			bitsLeft |= 56;
			let entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
			do {
				let saved = bitbuf;
				bitbuf >>= <u64>entry;
				bitsLeft -= entry;
				if (<i32>entry < 0) {
					store<u16>(out, <u16>(entry >> 8));
					out += 1 + ((entry >> 30) & 1);
					entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
					saved = bitbuf;
					bitbuf >>= <u64>entry;
					bitsLeft -= entry;
					if (<i32>entry < 0) {
						store<u16>(out, <u16>(entry >> 8));
						out += 1 + ((entry >> 30) & 1);
						entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
						saved = bitbuf;
						bitbuf >>= <u64>entry;
						bitsLeft -= entry;
						if (<i32>entry < 0) {
							store<u16>(out, <u16>(entry >> 8));
							out += 1 + ((entry >> 30) & 1);
							bitbuf |= load<u64>(inp) << bitsLeft;
							inp += 7 - ((bitsLeft >> 3) & 7);
							bitsLeft |= 56;
							entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
							continue;
						}
					}
				}
				// `entry`, consumed, is a length, a subtable pointer or the end of the block.
				if ((entry & EXCEPTIONAL) !== 0) {
					if ((entry & END_OF_BLOCK) !== 0) {
						blockDone = true;
						break;
					}
					if ((entry & SUBTABLE) === 0) return failure(BAD_LITLEN_CODE, inp, bitsLeft, inEnd);
					entry = load<u32>(
						litlenTable + ((<usize>((entry >> 16) + (<u32>bitbuf & (((<u32>1) << ((entry >> 8) & 0xf)) - 1)))) << 2),
					);
					saved = bitbuf;
					bitbuf >>= <u64>entry;
					bitsLeft -= entry;
					if (<i32>entry < 0) {
						store<u8>(out, <u8>(entry >> 16));
						out++;
						bitbuf |= load<u64>(inp) << bitsLeft;
						inp += 7 - ((bitsLeft >> 3) & 7);
						bitsLeft |= 56;
						entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
						continue;
					}
					if ((entry & EXCEPTIONAL) !== 0) {
						if ((entry & END_OF_BLOCK) !== 0) {
							blockDone = true;
							break;
						}
						return failure(BAD_LITLEN_CODE, inp, bitsLeft, inEnd);
					}
				}
				const length: u32 = (entry >> 16) + ((<u32>saved & (((<u32>1) << (entry & 0x1f)) - 1)) >> ((entry >> 8) & 0xf));

				if ((bitsLeft & 0xff) < 28) {
					bitbuf |= load<u64>(inp) << bitsLeft;
					inp += 7 - ((bitsLeft >> 3) & 7);
					bitsLeft |= 56;
				}
				entry = load<u32>(distanceTable + ((<usize>(<u32>bitbuf & DISTANCE_MASK)) << 2));
				if ((entry & EXCEPTIONAL) !== 0) {
					if ((entry & SUBTABLE) === 0) return failure(BAD_DISTANCE_CODE, inp, bitsLeft, inEnd);
					bitbuf >>= <u64>entry;
					bitsLeft -= entry;
					entry = load<u32>(
						distanceTable + ((<usize>((entry >> 16) + (<u32>bitbuf & (((<u32>1) << ((entry >> 8) & 0xf)) - 1)))) << 2),
					);
					if ((entry & EXCEPTIONAL) !== 0) return failure(BAD_DISTANCE_CODE, inp, bitsLeft, inEnd);
				}
				saved = bitbuf;
				bitbuf >>= <u64>entry;
				bitsLeft -= entry;
				const distance: u32 =
					(entry >> 16) + ((<u32>saved & (((<u32>1) << (entry & 0x1f)) - 1)) >> ((entry >> 8) & 0xf));
				if (<usize>distance > out - output) return failure(DISTANCE_TOO_FAR, inp, bitsLeft, inEnd);

				bitbuf |= load<u64>(inp) << bitsLeft;
				inp += 7 - ((bitsLeft >> 3) & 7);
				bitsLeft |= 56;
				entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));

				const end = out + length;
				let src = out - distance;
				let dst = out;
				if (distance >= 16) {
					v128.store(dst, v128.load(src));
					while (dst + 16 < end) {
						src += 16;
						dst += 16;
						v128.store(dst, v128.load(src));
					}
				} else if (distance >= 8) {
					store<u64>(dst, load<u64>(src));
					store<u64>(dst, load<u64>(src, 8), 8);
					dst += 16;
					src += 16;
					while (dst < end) {
						store<u64>(dst, load<u64>(src));
						src += 8;
						dst += 8;
					}
				} else {
					Match.copyShortDistance(dst, src, end, distance);
				}
				out = end;
			} while (inp < inFastEnd && out < outFastEnd);
		}
		if (blockDone) continue;

		// The rest of the block, near the end of the input or the output, every read and write
		// checked. After a refill at least 56 bits are buffered: three lookups of the main table
		// take at most 11 + 11 + 16 bits; a distance refills first when fewer than 28 are left.
		for (;;) {
			if (inp > inLimit) return TRUNCATED;
			bitbuf |= load<u64>(inp) << bitsLeft;
			inp += 7 - ((bitsLeft >> 3) & 7);
			bitsLeft |= 56;

			// One or two literals per lookup: both bytes are stored, and the output advances by
			// one or two (a lone literal's second byte is later output's room).
			let entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
			if (<i32>entry < 0) {
				bitbuf >>= <u64>entry;
				bitsLeft -= entry;
				store<u16>(out, <u16>(entry >> 8));
				out += 1 + ((entry >> 30) & 1);
				entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
				if (<i32>entry < 0) {
					bitbuf >>= <u64>entry;
					bitsLeft -= entry;
					store<u16>(out, <u16>(entry >> 8));
					out += 1 + ((entry >> 30) & 1);
					entry = load<u32>(litlenTable + ((<usize>(<u32>bitbuf & LITLEN_MASK)) << 2));
					if (<i32>entry < 0) {
						bitbuf >>= <u64>entry;
						bitsLeft -= entry;
						store<u16>(out, <u16>(entry >> 8));
						out += 1 + ((entry >> 30) & 1);
						if (out > outEnd) return failure(TOO_LONG, inp, bitsLeft, inEnd);
						continue;
					}
				}
				if (out > outEnd) return failure(TOO_LONG, inp, bitsLeft, inEnd);
			}
			let saved = bitbuf;
			bitbuf >>= <u64>entry;
			bitsLeft -= entry;
			if ((entry & EXCEPTIONAL) !== 0) {
				if ((entry & END_OF_BLOCK) !== 0) break;
				if ((entry & SUBTABLE) === 0) return failure(BAD_LITLEN_CODE, inp, bitsLeft, inEnd);
				entry = load<u32>(
					litlenTable + ((<usize>((entry >> 16) + (<u32>bitbuf & (((<u32>1) << ((entry >> 8) & 0xf)) - 1)))) << 2),
				);
				saved = bitbuf;
				bitbuf >>= <u64>entry;
				bitsLeft -= entry;
				if (<i32>entry < 0) {
					if (out >= outEnd) return failure(TOO_LONG, inp, bitsLeft, inEnd);
					store<u8>(out, <u8>(entry >> 16));
					out++;
					continue;
				}
				if ((entry & EXCEPTIONAL) !== 0) {
					if ((entry & END_OF_BLOCK) !== 0) break;
					return failure(BAD_LITLEN_CODE, inp, bitsLeft, inEnd);
				}
			}
			const length: u32 = (entry >> 16) + ((<u32>saved & (((<u32>1) << (entry & 0x1f)) - 1)) >> ((entry >> 8) & 0xf));

			if ((bitsLeft & 0xff) < 28) {
				if (inp > inLimit) return TRUNCATED;
				bitbuf |= load<u64>(inp) << bitsLeft;
				inp += 7 - ((bitsLeft >> 3) & 7);
				bitsLeft |= 56;
			}
			entry = load<u32>(distanceTable + ((<usize>(<u32>bitbuf & DISTANCE_MASK)) << 2));
			if ((entry & EXCEPTIONAL) !== 0) {
				if ((entry & SUBTABLE) === 0) return failure(BAD_DISTANCE_CODE, inp, bitsLeft, inEnd);
				bitbuf >>= <u64>entry;
				bitsLeft -= entry;
				entry = load<u32>(
					distanceTable + ((<usize>((entry >> 16) + (<u32>bitbuf & (((<u32>1) << ((entry >> 8) & 0xf)) - 1)))) << 2),
				);
				if ((entry & EXCEPTIONAL) !== 0) return failure(BAD_DISTANCE_CODE, inp, bitsLeft, inEnd);
			}
			saved = bitbuf;
			bitbuf >>= <u64>entry;
			bitsLeft -= entry;
			const distance: u32 = (entry >> 16) + ((<u32>saved & (((<u32>1) << (entry & 0x1f)) - 1)) >> ((entry >> 8) & 0xf));

			if (<usize>distance > out - output) return failure(DISTANCE_TOO_FAR, inp, bitsLeft, inEnd);
			if (<usize>length > outEnd - out) return failure(TOO_LONG, inp, bitsLeft, inEnd);
			const end = out + length;
			let src = out - distance;
			let dst = out;
			if (distance >= 16) {
				do {
					v128.store(dst, v128.load(src));
					src += 16;
					dst += 16;
				} while (dst < end);
			} else if (distance >= 8) {
				do {
					store<u64>(dst, load<u64>(src));
					src += 8;
					dst += 8;
				} while (dst < end);
			} else {
				Match.copyShortDistance(dst, src, end, distance);
			}
			out = end;
		}
	}

	// The Adler-32 of the output, from the next byte boundary, most significant byte first.
	bitsLeft &= 0xf8;
	inp -= bitsLeft >> 3;
	if (inp + 4 > inEnd) return TRUNCATED;
	const written = <u32>(out - output);
	if (bswap<u32>(load<u32>(inp)) !== adler32(output, written)) return BAD_CHECKSUM;
	return <i32>written;
}

// biome-ignore lint/complexity/noStaticOnlyClass: Biome parses this file as TypeScript, which allows decorators only on class members.
class Match {
	/**
	 * Copies a match at a distance of 1 to 7 bytes up to `end`, writing up to 15 bytes past it: a
	 * run of one byte as whole vectors; otherwise the first 8 bytes one at a time, after which the
	 * pattern repeats at a period of 8 or more (a multiple of the distance), copied a word at a time.
	 */
	@inline
	static copyShortDistance(dst: usize, src: usize, end: usize, distance: u32): void {
		if (distance === 1) {
			const run = i8x16.splat(load<u8>(src));
			do {
				v128.store(dst, run);
				dst += 16;
			} while (dst < end);
			return;
		}
		for (let i = 0; i < 8; i++) store<u8>(dst + i, load<u8>(src + i));
		dst += 8;
		src = dst - PATTERN_PERIOD[distance];
		while (dst < end) {
			store<u64>(dst, load<u64>(src));
			src += 8;
			dst += 8;
		}
	}
}

const ADLER_MODULUS: u32 = 65521;
/**
 * Bytes summed between reductions modulo 65521: zlib's NMAX (5552) rounded down to whole 32-byte
 * steps. The vector lanes' sums stay far within 32 bits at this length.
 */
const ADLER_BLOCK: usize = 5536;

/** Adler-32 (RFC 1950) of `length` bytes at `data`, 32 bytes per step. */
function adler32(data: usize, length: usize): u32 {
	let a: u64 = 1;
	let b: u64 = 0;
	// A step's bytes weigh 32 (the first) down to 1 in b: widened to 16 bits, each quarter is
	// multiplied by its weights and added in pairs by one instruction (i32x4.dot_i16x8_s), where
	// byte products widened and added pairwise 16 bytes a step took V8 about a third longer.
	const weights0 = i16x8(32, 31, 30, 29, 28, 27, 26, 25);
	const weights1 = i16x8(24, 23, 22, 21, 20, 19, 18, 17);
	const weights2 = i16x8(16, 15, 14, 13, 12, 11, 10, 9);
	const weights3 = i16x8(8, 7, 6, 5, 4, 3, 2, 1);
	const ones = i16x8.splat(1);
	let p = data;
	let left = length;
	while (left >= 32) {
		const n = (left < ADLER_BLOCK ? left : ADLER_BLOCK) & ~31;
		left -= n;
		const end = p + n;
		// Per lane: byte sums, the byte sums before each step, and the bytes times 32..1.
		let sums = i32x4.splat(0);
		let sumsBefore = i32x4.splat(0);
		let weighted = i32x4.splat(0);
		do {
			const first = v128.load(p);
			const second = v128.load(p, 16);
			const q0 = i16x8.extend_low_i8x16_u(first);
			const q1 = i16x8.extend_high_i8x16_u(first);
			const q2 = i16x8.extend_low_i8x16_u(second);
			const q3 = i16x8.extend_high_i8x16_u(second);
			sumsBefore = i32x4.add(sumsBefore, sums);
			sums = i32x4.add(sums, i32x4.dot_i16x8_s(i16x8.add(i16x8.add(q0, q1), i16x8.add(q2, q3)), ones));
			weighted = i32x4.add(
				weighted,
				i32x4.add(
					i32x4.add(i32x4.dot_i16x8_s(q0, weights0), i32x4.dot_i16x8_s(q1, weights1)),
					i32x4.add(i32x4.dot_i16x8_s(q2, weights2), i32x4.dot_i16x8_s(q3, weights3)),
				),
			);
			p += 32;
		} while (p < end);
		b += a * <u64>n + 32 * laneSum(sumsBefore) + laneSum(weighted);
		a += laneSum(sums);
		a %= ADLER_MODULUS;
		b %= ADLER_MODULUS;
	}
	while (left > 0) {
		a += <u64>load<u8>(p);
		b += a;
		p++;
		left--;
	}
	a %= ADLER_MODULUS;
	b %= ADLER_MODULUS;
	return <u32>((b << 16) | a);
}

function laneSum(v: v128): u64 {
	return (
		<u64>i32x4.extract_lane(v, 0) +
		<u64>i32x4.extract_lane(v, 1) +
		<u64>i32x4.extract_lane(v, 2) +
		<u64>i32x4.extract_lane(v, 3)
	);
}

// ---------------------------------------------------------------------------------------------
// TIFF LZW (compression 5), as libtiff writes it: codes of 9 to 12 bits, most significant bit
// first, with the "early change" of width one code before each width fills. Every table
// entry is remembered as where its string was last written in the output, so emitting a code
// is a copy of earlier output.

const CLEAR_CODE: u32 = 256;
const END_OF_INFORMATION: u32 = 257;
const FIRST_FREE_CODE: u32 = 258;
const MIN_CODE_BITS: u32 = 9;
const MAX_CODE_BITS: u32 = 12;
const LZW_TABLE_SIZE: u32 = 1 << MAX_CODE_BITS;
/** Where each code's string is (an address) and how long; codes 0-255 point into `alphabet`. */
const entryStarts = memory.data(LZW_TABLE_SIZE * 4);
const entryLengths = memory.data(LZW_TABLE_SIZE * 4);
/** The 256 one-byte strings, and room for a 16-byte copy from the last. */
const alphabet = memory.data(256 + 16);
let alphabetReady = false;

function prepareAlphabet(): void {
	for (let byte: u32 = 0; byte < 256; byte++) {
		store<u8>(alphabet + byte, <u8>byte);
		store<u32>(entryStarts + ((<usize>byte) << 2), <u32>(alphabet + byte));
		store<u32>(entryLengths + ((<usize>byte) << 2), 1);
	}
	alphabetReady = true;
}

/**
 * Decodes LZW codes into at most `maxBytes` bytes. Decoding stops at the end-of-information
 * code, when the output is full, or when the input runs out, as libtiff does. Returns the bytes
 * written, or LZW_BAD_CODE for a code that is not in the table (see error_detail()).
 */
export function lzw(input: usize, inputBytes: usize, output: usize, maxBytes: usize): i32 {
	if (!alphabetReady) prepareAlphabet();
	const inputBits: u64 = (<u64>inputBytes) << 3;
	const outEnd = output + maxBytes;
	let bitPos: u64 = 0;
	let codeBits: u32 = MIN_CODE_BITS;
	let widenAt: u32 = (1 << MIN_CODE_BITS) - 1;
	let nextCode: u32 = FIRST_FREE_CODE;
	let out = output;
	let previousStart: usize = 0;
	let previousLength: usize = 0;
	let havePrevious = false;

	while (out < outEnd) {
		// 32 bits from the code's first byte hold it whole (a code starts at most 7 bits in).
		const word = bswap<u32>(load<u32>(input + <usize>(bitPos >> 3)));
		const code = (word << (<u32>bitPos & 7)) >>> (32 - codeBits);
		bitPos += codeBits;
		if (bitPos > inputBits) break;

		let length: usize = 0;
		if (code < nextCode && code - CLEAR_CODE >= 2) {
			// A byte or a string of the table (every code below the next free one but clear and
			// end-of-information): a copy of at most the room left.
			length = <usize>load<u32>(entryLengths + ((<usize>code) << 2));
			if (length > outEnd - out) length = outEnd - out;
			Strings.copy(out, <usize>load<u32>(entryStarts + ((<usize>code) << 2)), length);
		} else if (code === CLEAR_CODE) {
			codeBits = MIN_CODE_BITS;
			widenAt = (1 << MIN_CODE_BITS) - 1;
			nextCode = FIRST_FREE_CODE;
			havePrevious = false;
			continue;
		} else if (code === END_OF_INFORMATION) {
			break;
		} else if (code === nextCode && havePrevious) {
			// The code being defined right now: the previous string plus its own first byte.
			length = previousLength + 1;
			if (length > outEnd - out) length = outEnd - out;
			Strings.copy(out, previousStart, length < previousLength ? length : previousLength);
			if (length > previousLength) store<u8>(out + previousLength, load<u8>(previousStart));
		} else {
			errorDetail = <i32>(code | (nextCode << 16));
			return LZW_BAD_CODE;
		}

		if (havePrevious && nextCode < LZW_TABLE_SIZE) {
			// The new entry is the previous string and this one's first byte, which is what the
			// output holds from the previous string's start.
			store<u32>(entryStarts + ((<usize>nextCode) << 2), <u32>previousStart);
			store<u32>(entryLengths + ((<usize>nextCode) << 2), <u32>previousLength + 1);
			nextCode++;
			if (nextCode >= widenAt && codeBits < MAX_CODE_BITS) {
				codeBits++;
				widenAt = (widenAt << 1) | 1;
			}
		}
		havePrevious = true;
		previousStart = out;
		previousLength = length;
		out += length;
	}
	return <i32>(out - output);
}

// biome-ignore lint/complexity/noStaticOnlyClass: Biome parses this file as TypeScript, which allows decorators only on class members.
class Strings {
	/**
	 * Copies `length` bytes of earlier output, 16 at a time: the string ends at or before `to`,
	 * so every byte read is final, and the tail written past `to + length` is later output's room.
	 */
	@inline
	static copy(to: usize, from: usize, length: usize): void {
		v128.store(to, v128.load(from));
		for (let i: usize = 16; i < length; i += 16) v128.store(to + i, v128.load(from + i));
	}
}

// ---------------------------------------------------------------------------------------------
// TIFF predictor 2 (horizontal differencing), undone in place on samples in this machine's
// (little-endian) byte order: each row is a running sum at a stride of one pixel, wrapping at
// the sample's width.

/**
 * Undoes predictor 2 over `bytes` bytes at `data`: whole rows of `rowSamples` samples of
 * `bytesPerSample` (1, 2, 4 or 8) bytes, each differenced against the sample `stride` samples
 * before it.
 */
export function undo_predictor2(data: usize, bytes: usize, rowSamples: u32, stride: u32, bytesPerSample: u32): void {
	const rowBytes = <usize>rowSamples * bytesPerSample;
	if (rowBytes === 0) return;
	const pixelBytes = <usize>stride * bytesPerSample;
	const vectored =
		bytesPerSample <= 4 && (pixelBytes === 1 || pixelBytes === 2 || pixelBytes === 4 || pixelBytes === 8);
	for (let row = data; row + rowBytes <= data + bytes; row += rowBytes) {
		let p = row;
		if (vectored && rowBytes >= 16) {
			// Each call with a constant pixel size, so that the inlined loop has no branch on it.
			if (bytesPerSample === 1) {
				if (pixelBytes === 1) p = RowSums.of<u8>(row, rowBytes, 1);
				else if (pixelBytes === 2) p = RowSums.of<u8>(row, rowBytes, 2);
				else if (pixelBytes === 4) p = RowSums.of<u8>(row, rowBytes, 4);
				else p = RowSums.of<u8>(row, rowBytes, 8);
			} else if (bytesPerSample === 2) {
				if (pixelBytes === 2) p = RowSums.of<u16>(row, rowBytes, 2);
				else if (pixelBytes === 4) p = RowSums.of<u16>(row, rowBytes, 4);
				else p = RowSums.of<u16>(row, rowBytes, 8);
			} else if (pixelBytes === 4) {
				p = RowSums.of<u32>(row, rowBytes, 4);
			} else {
				p = RowSums.of<u32>(row, rowBytes, 8);
			}
		} else {
			p = row + pixelBytes;
		}
		const end = row + rowBytes;
		if (bytesPerSample === 1) {
			for (; p < end; p++) store<u8>(p, load<u8>(p) + load<u8>(p - pixelBytes));
		} else if (bytesPerSample === 2) {
			for (; p < end; p += 2) store<u16>(p, load<u16>(p) + load<u16>(p - pixelBytes));
		} else if (bytesPerSample === 4) {
			for (; p < end; p += 4) store<u32>(p, load<u32>(p) + load<u32>(p - pixelBytes));
		} else {
			for (; p < end; p += 8) store<u64>(p, load<u64>(p) + load<u64>(p - pixelBytes));
		}
	}
}

// Running sums of a row's whole 16-byte steps; each returns where its steps stopped. Within each
// 64-bit half of a step the sums are a log-step scan by lane shifts (add the half shifted by one
// pixel, two, four...); then the first half's last pixel is added to the second half, and the
// last pixel of the step before to both. V8 compiles a lane shift, a shuffle of one vector and
// the interleave of two vectors' 64-bit halves to one instruction each; the byte shuffles of the
// vector and zeros this was first written with took several, and the whole undo 2.6 times as
// long on UInt16 pixels.

// biome-ignore lint/complexity/noStaticOnlyClass: Biome parses this file as TypeScript, which allows decorators only on class members.
class RowSums {
	/** Running sums of samples of type T (u8, u16 or u32), `pixelBytes` apart. */
	@inline
	static of<T>(row: usize, rowBytes: usize, pixelBytes: usize): usize {
		const zero = i32x4.splat(0);
		let carry = zero;
		let p = row;
		const end = row + (rowBytes & ~15);
		for (; p < end; p += 16) {
			let v = v128.load(p);
			if (pixelBytes <= 1) v = RowSums.add<T>(v, i64x2.shl(v, 8));
			if (pixelBytes <= 2) v = RowSums.add<T>(v, i64x2.shl(v, 16));
			if (pixelBytes <= 4) v = RowSums.add<T>(v, i64x2.shl(v, 32));
			const last = RowSums.lastOfHalves(v, pixelBytes);
			v = RowSums.add<T>(v, i64x2.shuffle(zero, last, 0, 2));
			v128.store(p, RowSums.add<T>(v, carry));
			carry = RowSums.add<T>(carry, RowSums.add<T>(last, i64x2.shuffle(last, last, 1, 0)));
		}
		return p;
	}

	/** Lane-wise sum, in lanes of T's width. */
	@inline
	static add<T>(a: v128, b: v128): v128 {
		if (sizeof<T>() === 1) return i8x16.add(a, b);
		if (sizeof<T>() === 2) return i16x8.add(a, b);
		return i32x4.add(a, b);
	}

	/** The last pixel of each 64-bit half of a step, repeated across its half. */
	@inline
	static lastOfHalves(v: v128, pixelBytes: usize): v128 {
		if (pixelBytes === 1) return i8x16.shuffle(v, v, 7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15, 15, 15, 15, 15, 15);
		if (pixelBytes === 2) return i8x16.shuffle(v, v, 6, 7, 6, 7, 6, 7, 6, 7, 14, 15, 14, 15, 14, 15, 14, 15);
		if (pixelBytes === 4) return i8x16.shuffle(v, v, 4, 5, 6, 7, 4, 5, 6, 7, 12, 13, 14, 15, 12, 13, 14, 15);
		return v;
	}
}
