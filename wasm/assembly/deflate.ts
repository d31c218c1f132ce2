// The tile encoder of result.tif: a TIFF predictor, floating-point (Technical Note 3) for
// float32 tiles or horizontal (2) for 8- and 16-bit integer tiles, as GDAL chooses them, and a
// zlib stream (RFC 1950/1951) in one call. The compressor uses zlib's Z_RLE strategy: matches only
// at distance 1 (runs of one byte), each block coded with its own Huffman codes. On predictor-3
// NDVI tiles this is 0.3% larger than zlib's default level (1% over a whole scene with its
// overviews) and about ten times faster: the predicted bytes are runs (sign and exponent planes,
// nodata) and noise (the low mantissa planes), where a longer search finds little more
// (bench/encode.bench.ts).
// src/wasm/deflate.ts lays buffers out after heap_base(); nothing here allocates.

/** First byte of linear memory free for the caller's buffers. */
export function heap_base(): usize {
	return __heap_base;
}

/** Input bytes per Deflate block: each block gets Huffman codes fitted to its own bytes. */
const BLOCK_BYTES: usize = 128 * 1024;
export function block_bytes(): usize {
	return BLOCK_BYTES;
}

const MIN_MATCH: i32 = 3;
const MAX_MATCH: i32 = 258;
const END_OF_BLOCK: i32 = 256;
const LITLEN_SYMBOLS: i32 = 286;
const CODE_LENGTH_SYMBOLS: i32 = 19;
const MAX_CODE_BITS: i32 = 15;
const MAX_CODE_LENGTH_BITS: i32 = 7;
/** Tokens are u16: a literal byte, or MATCH_TOKEN + length for a run at distance 1. */
const MATCH_TOKEN: i32 = 256;

// Length symbols 257..285 (RFC 1951 3.2.5), by match length 3..258.
const LENGTH_BASE: StaticArray<u16> = [
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LENGTH_EXTRA: StaticArray<u8> = [
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/** Order in which the code length code's lengths are sent. */
const CODE_LENGTH_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

// Scratch tables in static memory (below heap_base), so the caller's buffers never overlap them.
/** Length symbol index (0..28) of every match length 0..258. */
const lengthSymbolOf = memory.data(MAX_MATCH + 1);
const litlenCounts = memory.data(LITLEN_SYMBOLS * 4);
const litlenLengths = memory.data(LITLEN_SYMBOLS);
const litlenCodes = memory.data(LITLEN_SYMBOLS * 2);
const codeLengthCounts = memory.data(CODE_LENGTH_SYMBOLS * 4);
const codeLengthLengths = memory.data(CODE_LENGTH_SYMBOLS);
const codeLengthCodes = memory.data(CODE_LENGTH_SYMBOLS * 2);
/** The header's code lengths, run-length coded: symbol | extra value << 8, per entry. */
const headerRuns = memory.data((LITLEN_SYMBOLS + 2) * 2);
/** Huffman construction: (count << 16 | symbol) sorted, then depths in place. */
const sortedSymbols = memory.data(LITLEN_SYMBOLS * 8);
const depths = memory.data(LITLEN_SYMBOLS * 4);
const lengthCounts = memory.data((MAX_CODE_BITS + 2) * 4);
/** Each literal's code and, shifted left 16, its length: emitTokens's table. */
const literalEntries = memory.data(256 * 4);
/** Four tables of literal counts, 256 u32 each, one per byte position modulo 4 (see tokenize). */
const LITERAL_TABLE_BYTES: usize = 256 * 4;
const LITERAL_TABLE_0: usize = memory.data(4 * 256 * 4, 16);
const LITERAL_TABLE_1: usize = LITERAL_TABLE_0 + LITERAL_TABLE_BYTES;
const LITERAL_TABLE_2: usize = LITERAL_TABLE_1 + LITERAL_TABLE_BYTES;
const LITERAL_TABLE_3: usize = LITERAL_TABLE_2 + LITERAL_TABLE_BYTES;
/** One row of the tile, its bytes split into planes, before differencing. */
let planesRow: usize = 0;

let tablesReady = false;
function prepareTables(): void {
	for (let symbol = 0; symbol < 29; symbol++) {
		const first = <i32>LENGTH_BASE[symbol];
		const last = symbol === 28 ? MAX_MATCH : <i32>LENGTH_BASE[symbol + 1] - 1;
		for (let length = first; length <= last; length++) store<u8>(lengthSymbolOf + length, symbol);
	}
	tablesReady = true;
}

// ---------------------------------------------------------------------------------------------
// Bit output, least significant bit first.

let out: usize = 0;
let bitBuffer: u64 = 0;
let bitCount: u32 = 0;

function putBits(bits: u32, count: u32): void {
	bitBuffer |= (<u64>bits) << bitCount;
	bitCount += count;
	if (bitCount >= 32) {
		store<u32>(out, <u32>bitBuffer);
		out += 4;
		bitBuffer >>= 32;
		bitCount -= 32;
	}
}

function flushToByte(): void {
	while (bitCount > 0) {
		store<u8>(out, <u8>bitBuffer);
		out++;
		bitBuffer >>= 8;
		bitCount = bitCount > 8 ? bitCount - 8 : 0;
	}
	bitBuffer = 0;
}

// ---------------------------------------------------------------------------------------------
// Huffman codes

/**
 * Code lengths of at most `limit` bits for `symbols` symbols with the given counts, written to
 * `lengths` (0 for unused symbols), and their canonical codes, bit-reversed for LSB-first
 * output, to `codes`. The code is always complete: with fewer than two used symbols, unused
 * ones are counted once, as zlib's inflate refuses an incomplete code length code.
 */
function buildCode(counts: usize, symbols: i32, limit: i32, lengths: usize, codes: usize): void {
	let used = 0;
	for (let s = 0; s < symbols; s++) if (load<u32>(counts + ((<usize>s) << 2)) !== 0) used++;
	for (let s = 0; s < symbols && used < 2; s++) {
		if (load<u32>(counts + ((<usize>s) << 2)) === 0) {
			store<u32>(counts + ((<usize>s) << 2), 1);
			used++;
		}
	}
	// Symbols by ascending count (insertion sort: at most 286 of them).
	let n = 0;
	for (let s = 0; s < symbols; s++) {
		store<u8>(lengths + s, 0);
		const count = load<u32>(counts + ((<usize>s) << 2));
		if (count === 0) continue;
		const key = ((<u64>count) << 16) | <u64>s;
		let i = n;
		while (i > 0 && load<u64>(sortedSymbols + ((<usize>(i - 1)) << 3)) > key) {
			store<u64>(sortedSymbols + ((<usize>i) << 3), load<u64>(sortedSymbols + ((<usize>(i - 1)) << 3)));
			i--;
		}
		store<u64>(sortedSymbols + ((<usize>i) << 3), key);
		n++;
	}
	// Moffat and Katajainen's in-place minimum-redundancy code lengths.
	for (let i = 0; i < n; i++)
		store<u32>(depths + ((<usize>i) << 2), <u32>(load<u64>(sortedSymbols + ((<usize>i) << 3)) >> 16));
	minimumRedundancy(n);
	// Lengths over the limit are cut to it; the Kraft sum is then restored by lengthening the
	// longest codes under the limit (miniz's method).
	memory.fill(lengthCounts, 0, (MAX_CODE_BITS + 2) * 4);
	for (let i = 0; i < n; i++) {
		const depth = min(<i32>load<u32>(depths + ((<usize>i) << 2)), limit);
		store<u32>(lengthCounts + ((<usize>depth) << 2), load<u32>(lengthCounts + ((<usize>depth) << 2)) + 1);
	}
	let kraft: u32 = 0;
	for (let bits = limit; bits > 0; bits--) kraft += load<u32>(lengthCounts + ((<usize>bits) << 2)) << (limit - bits);
	while (kraft !== (<u32>1) << limit) {
		store<u32>(lengthCounts + ((<usize>limit) << 2), load<u32>(lengthCounts + ((<usize>limit) << 2)) - 1);
		for (let bits = limit - 1; bits > 0; bits--) {
			const count = load<u32>(lengthCounts + ((<usize>bits) << 2));
			if (count !== 0) {
				store<u32>(lengthCounts + ((<usize>bits) << 2), count - 1);
				store<u32>(lengthCounts + ((<usize>(bits + 1)) << 2), load<u32>(lengthCounts + ((<usize>(bits + 1)) << 2)) + 2);
				break;
			}
		}
		kraft--;
	}
	// The most frequent symbols take the shortest lengths.
	let next = n;
	for (let bits = 1; bits <= limit; bits++) {
		for (let count = load<u32>(lengthCounts + ((<usize>bits) << 2)); count > 0; count--) {
			next--;
			const symbol = <i32>(load<u64>(sortedSymbols + ((<usize>next) << 3)) & 0xffff);
			store<u8>(lengths + symbol, bits);
		}
	}
	// Canonical codes (RFC 1951 3.2.2), reversed.
	memory.fill(lengthCounts, 0, (MAX_CODE_BITS + 2) * 4);
	for (let s = 0; s < symbols; s++) {
		const bits = <usize>load<u8>(lengths + s);
		store<u32>(lengthCounts + (bits << 2), load<u32>(lengthCounts + (bits << 2)) + 1);
	}
	store<u32>(lengthCounts, 0);
	let code: u32 = 0;
	for (let bits = 1; bits <= MAX_CODE_BITS + 1; bits++) {
		code = (code + load<u32>(lengthCounts + ((<usize>(bits - 1)) << 2))) << 1;
		// depths[bits] is the next code of that length.
		store<u32>(depths + ((<usize>bits) << 2), code);
	}
	for (let s = 0; s < symbols; s++) {
		const bits = <i32>load<u8>(lengths + s);
		if (bits === 0) continue;
		const at = depths + ((<usize>bits) << 2);
		const assigned = load<u32>(at);
		store<u32>(at, assigned + 1);
		store<u16>(codes + ((<usize>s) << 1), <u16>reverseBits(assigned, bits));
	}
}

/** In place over `depths[0..n)` (counts ascending): replaces each count by its code length. */
function get(i: i32): u32 {
	return load<u32>(depths + ((<usize>i) << 2));
}

function set(i: i32, value: u32): void {
	store<u32>(depths + ((<usize>i) << 2), value);
}

function minimumRedundancy(n: i32): void {
	if (n === 0) return;
	if (n === 1) {
		set(0, 1);
		return;
	}
	set(0, get(0) + get(1));
	let root = 0;
	let leaf = 2;
	for (let next = 1; next < n - 1; next++) {
		if (leaf >= n || get(root) < get(leaf)) {
			set(next, get(root));
			set(root++, next);
		} else set(next, get(leaf++));
		if (leaf >= n || (root < next && get(root) < get(leaf))) {
			set(next, get(next) + get(root));
			set(root++, next);
		} else set(next, get(next) + get(leaf++));
	}
	set(n - 2, 0);
	for (let next = n - 3; next >= 0; next--) set(next, get(get(next)) + 1);
	let available = 1;
	let usedAtDepth = 0;
	let depth: u32 = 0;
	let root2 = n - 2;
	let next2 = n - 1;
	while (available > 0) {
		while (root2 >= 0 && get(root2) === depth) {
			usedAtDepth++;
			root2--;
		}
		while (available > usedAtDepth) {
			set(next2--, depth);
			available--;
		}
		available = 2 * usedAtDepth;
		depth++;
		usedAtDepth = 0;
	}
}

function reverseBits(code: u32, bits: i32): u32 {
	let reversed: u32 = 0;
	for (let i = 0; i < bits; i++) {
		reversed = (reversed << 1) | (code & 1);
		code >>= 1;
	}
	return reversed;
}

// ---------------------------------------------------------------------------------------------
// The predictors

/**
 * Turns `rows` rows of `width` float32 samples (little-endian host) into TIFF predictor 3 bytes,
 * in place: each row split into byte planes, most significant first, then every byte minus the
 * one before it in the row. A row is read whole into planesRow before it is overwritten.
 * `width` is a multiple of 16.
 */
function predictFloatingPoint(tile: usize, width: i32, rows: i32): void {
	const rowBytes = (<usize>width) << 2;
	const plane = <usize>width;
	for (let row = 0; row < rows; row++) {
		const from = tile + <usize>row * rowBytes;
		for (let i: usize = 0; i < plane; i += 16) {
			const a = v128.load(from + (i << 2));
			const b = v128.load(from + (i << 2) + 16);
			const c = v128.load(from + (i << 2) + 32);
			const d = v128.load(from + (i << 2) + 48);
			// Bytes 3 and 2 of eight samples, then of the next eight; likewise bytes 1 and 0.
			const ab32 = i8x16.shuffle(a, b, 3, 7, 11, 15, 19, 23, 27, 31, 2, 6, 10, 14, 18, 22, 26, 30);
			const cd32 = i8x16.shuffle(c, d, 3, 7, 11, 15, 19, 23, 27, 31, 2, 6, 10, 14, 18, 22, 26, 30);
			const ab10 = i8x16.shuffle(a, b, 1, 5, 9, 13, 17, 21, 25, 29, 0, 4, 8, 12, 16, 20, 24, 28);
			const cd10 = i8x16.shuffle(c, d, 1, 5, 9, 13, 17, 21, 25, 29, 0, 4, 8, 12, 16, 20, 24, 28);
			v128.store(planesRow + i, i8x16.shuffle(ab32, cd32, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23));
			v128.store(
				planesRow + plane + i,
				i8x16.shuffle(ab32, cd32, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31),
			);
			v128.store(
				planesRow + 2 * plane + i,
				i8x16.shuffle(ab10, cd10, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
			);
			v128.store(
				planesRow + 3 * plane + i,
				i8x16.shuffle(ab10, cd10, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31),
			);
		}
		const to = from;
		// planesRow - 1 is read only for byte 0, which is then stored as it is.
		for (let i: usize = 0; i < rowBytes; i += 16) {
			v128.store(to + i, i8x16.sub(v128.load(planesRow + i), v128.load(planesRow + i - 1)));
		}
		store<u8>(to, load<u8>(planesRow));
	}
}

/**
 * TIFF's horizontal predictor (2) over `rows` rows of `width` samples of `sampleBytes` (1 or 2)
 * bytes, in place: each sample minus the one before it in its row, modulo 2^bits, the first
 * sample kept. A row is walked from its end, so every difference reads samples not yet
 * overwritten; its first vector reads the sample before the row, whose difference is then
 * replaced by the first sample itself. `width` is a multiple of 16, so rows are whole vectors.
 */
function predictHorizontal(tile: usize, width: i32, rows: i32, sampleBytes: i32): void {
	const rowBytes = <isize>width * <isize>sampleBytes;
	for (let row = 0; row < rows; row++) {
		const from = tile + <usize>(<isize>row * rowBytes);
		if (sampleBytes === 2) {
			const first = load<u16>(from);
			for (let i = rowBytes - 16; i >= 0; i -= 16) {
				v128.store(from + i, i16x8.sub(v128.load(from + i), v128.load(from + i - 2)));
			}
			store<u16>(from, first);
		} else {
			const first = load<u8>(from);
			for (let i = rowBytes - 16; i >= 0; i -= 16) {
				v128.store(from + i, i8x16.sub(v128.load(from + i), v128.load(from + i - 1)));
			}
			store<u8>(from, first);
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Adler-32 (RFC 1950), 16 bytes a step

const ADLER_BASE: u32 = 65521;
/** Steps of 16 bytes before the sums are reduced, so no 32-bit lane overflows. */
const ADLER_STEPS: usize = 256;

function adler32(data: usize, length: usize): u32 {
	let s1: u64 = 1;
	let s2: u64 = 0;
	const weightsHigh = i16x8(16, 15, 14, 13, 12, 11, 10, 9);
	const weightsLow = i16x8(8, 7, 6, 5, 4, 3, 2, 1);
	let at = data;
	const end = data + length;
	while (end - at >= 16) {
		const steps = min((end - at) >> 4, ADLER_STEPS);
		let sums = i32x4.splat(0);
		let prefix = i32x4.splat(0);
		let weighted = i32x4.splat(0);
		for (let step: usize = 0; step < steps; step++) {
			const bytes = v128.load(at);
			prefix = i32x4.add(prefix, sums);
			sums = i32x4.add(sums, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(bytes)));
			weighted = i32x4.add(weighted, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(bytes), weightsHigh));
			weighted = i32x4.add(weighted, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(bytes), weightsLow));
			at += 16;
		}
		s2 += 16 * <u64>steps * s1 + 16 * horizontalSum(prefix) + horizontalSum(weighted);
		s1 += horizontalSum(sums);
		s1 %= ADLER_BASE;
		s2 %= ADLER_BASE;
	}
	while (at < end) {
		s1 += <u64>load<u8>(at++);
		s2 += s1;
	}
	return <u32>(((s2 % ADLER_BASE) << 16) | (s1 % ADLER_BASE));
}

function horizontalSum(v: v128): u64 {
	return (
		<u64>i32x4.extract_lane(v, 0) +
		<u64>i32x4.extract_lane(v, 1) +
		<u64>i32x4.extract_lane(v, 2) +
		<u64>i32x4.extract_lane(v, 3)
	);
}

// ---------------------------------------------------------------------------------------------
// Deflate

/**
 * Cuts `length` bytes at `data` into tokens (literals and runs at distance 1, as zlib's Z_RLE)
 * and counts the symbols. `previous` is the byte before `data` (-1 at the start of the stream).
 * Returns the token count.
 *
 * A run starts at byte j when j and the two bytes after it equal the byte before j. The bytes
 * of a tile's noisy low planes rarely do, so 16 bytes are compared with the 16 before them at
 * once, and the bytes before the first lane where a run may start are literals, taken without
 * a branch per byte; from there one token is cut byte by byte, as zlib does. Literals count into
 * four tables by their position, so neighbouring equal bytes never wait on each other's
 * increment.
 */
function tokenize(data: usize, length: i32, previous: i32, tokens: usize): i32 {
	memory.fill(litlenCounts, 0, LITLEN_SYMBOLS * 4);
	memory.fill(LITERAL_TABLE_0, 0, 4 * LITERAL_TABLE_BYTES);
	let count = 0;
	let i = 0;
	// The first byte is compared with `previous`, not with the byte before it in memory.
	if (length > 0) {
		const first = tokenAt(data, 0, length, previous, tokens, count);
		count++;
		i = first;
	}
	while (i < length) {
		if (i + 16 <= length) {
			const bytes = v128.load(data + i);
			const equal = i8x16.bitmask(i8x16.eq(bytes, v128.load(data + i - 1)));
			// Lanes where three equal bytes begin, and lanes 14 and 15, whose runs the vector cannot see.
			const starts = (equal & (equal >> 1) & (equal >> 2)) | (equal & 0xc000);
			const literals = starts === 0 ? 16 : <i32>ctz(starts);
			const at = tokens + ((<usize>count) << 1);
			// Tokens are written for all 16 bytes; those past `literals` are overwritten next.
			v128.store(at, i16x8.extend_low_i8x16_u(bytes));
			v128.store(at, i16x8.extend_high_i8x16_u(bytes), 16);
			if (literals === 16) countLiterals16(bytes);
			else countLiterals(data + i, literals);
			i += literals;
			count += literals;
			if (literals === 16) continue;
		}
		i = tokenAt(data, i, length, <i32>load<u8>(data + i - 1), tokens, count);
		count++;
	}
	sumLiteralTables();
	store<u32>(litlenCounts + (END_OF_BLOCK << 2), 1);
	return count;
}

/**
 * Cuts one token at byte `i`, whose previous byte is `previous`: a run of at least MIN_MATCH
 * bytes equal to it, or the byte as a literal. Writes it as token `count` and counts it.
 * Returns the index of the byte after it.
 */
function tokenAt(data: usize, i: i32, length: i32, previous: i32, tokens: usize, count: i32): i32 {
	const byte = <i32>load<u8>(data + i);
	if (byte === previous) {
		let run = 1;
		const limit = min(MAX_MATCH, length - i);
		while (run < limit && <i32>load<u8>(data + i + run) === previous) run++;
		if (run >= MIN_MATCH) {
			store<u16>(tokens + ((<usize>count) << 1), MATCH_TOKEN + run);
			const symbol = 257 + <i32>load<u8>(lengthSymbolOf + run);
			store<u32>(litlenCounts + ((<usize>symbol) << 2), load<u32>(litlenCounts + ((<usize>symbol) << 2)) + 1);
			return i + run;
		}
	}
	store<u16>(tokens + ((<usize>count) << 1), <u16>byte);
	const at = (<usize>byte) << 2;
	store<u32>(at, load<u32>(at, LITERAL_TABLE_0) + 1, LITERAL_TABLE_0);
	return i + 1;
}

/** Counts `n` literal bytes at `data`, each in the table of its position modulo 4. */
function countLiterals(data: usize, n: i32): void {
	for (let j = 0; j < n; j++) {
		const at = (<usize>load<u8>(data + j)) << 2;
		const table = LITERAL_TABLE_0 + ((<usize>(j & 3)) << 10);
		store<u32>(table + at, load<u32>(table + at) + 1);
	}
}

/** Counts the 16 literal bytes of `bytes`, each in the table of its lane modulo 4. */
function countLiterals16(bytes: v128): void {
	const low = i64x2.extract_lane(bytes, 0);
	const high = i64x2.extract_lane(bytes, 1);
	Bytes.count4(low);
	Bytes.count4(low >>> 32);
	Bytes.count4(high);
	Bytes.count4(high >>> 32);
}

/** Adds the four literal tables into litlenCounts' literals. */
function sumLiteralTables(): void {
	for (let at: usize = 0; at < LITERAL_TABLE_BYTES; at += 16) {
		const total = i32x4.add(
			i32x4.add(v128.load(at, LITERAL_TABLE_0), v128.load(at, LITERAL_TABLE_1)),
			i32x4.add(v128.load(at, LITERAL_TABLE_2), v128.load(at, LITERAL_TABLE_3)),
		);
		v128.store(litlenCounts + at, i32x4.add(v128.load(litlenCounts + at), total));
	}
}

/**
 * Run-length codes the literal/length and distance code lengths as the header sends them
 * (symbols 16, 17, 18 of RFC 1951 3.2.7) into headerRuns, counting the symbols. Returns the
 * number of runs. The distance code is two codes of 1 bit: every match is at distance 1.
 */
function codeHeaderLengths(hlit: i32): i32 {
	memory.fill(codeLengthCounts, 0, CODE_LENGTH_SYMBOLS * 4);
	headerRunCount = 0;
	const total = hlit + 2;
	let i = 0;
	while (i < total) {
		const length = lengthAt(i, hlit);
		let run = 1;
		while (i + run < total && lengthAt(i + run, hlit) === length) run++;
		i += run;
		if (length === 0) {
			while (run >= 11) {
				const take = min(run, 138);
				emit(18, take - 11);
				run -= take;
			}
			if (run >= 3) {
				emit(17, run - 3);
				run = 0;
			}
		} else {
			emit(length, 0);
			run--;
			while (run >= 3) {
				const take = min(run, 6);
				emit(16, take - 3);
				run -= take;
			}
		}
		for (; run > 0; run--) emit(length, 0);
	}
	return headerRunCount;
}

let headerRunCount = 0;

function emit(symbol: i32, extra: i32): void {
	store<u16>(headerRuns + ((<usize>headerRunCount) << 1), <u16>(symbol | (extra << 8)));
	headerRunCount++;
	store<u32>(codeLengthCounts + ((<usize>symbol) << 2), load<u32>(codeLengthCounts + ((<usize>symbol) << 2)) + 1);
}

/** Code length `i` of the header's sequence: literal/length codes, then the two distance codes. */
function lengthAt(i: i32, hlit: i32): i32 {
	return i < hlit ? <i32>load<u8>(litlenLengths + i) : 1;
}

/** Largest stored (uncompressed) block. */
const MAX_STORED: i32 = 65535;
const EXTRA_BITS_OF_RUN: StaticArray<u8> = [2, 3, 7];

/** Writes one block: dynamic Huffman, or stored when that would be larger. */
function writeBlock(data: usize, length: i32, previous: i32, tokens: usize, last: bool): void {
	const count = tokenize(data, length, previous, tokens);
	buildCode(litlenCounts, LITLEN_SYMBOLS, MAX_CODE_BITS, litlenLengths, litlenCodes);
	let hlit = LITLEN_SYMBOLS;
	while (hlit > 257 && load<u8>(litlenLengths + hlit - 1) === 0) hlit--;
	const runs = codeHeaderLengths(hlit);
	buildCode(codeLengthCounts, CODE_LENGTH_SYMBOLS, MAX_CODE_LENGTH_BITS, codeLengthLengths, codeLengthCodes);
	let hclen = CODE_LENGTH_SYMBOLS;
	while (hclen > 4 && load<u8>(codeLengthLengths + <i32>CODE_LENGTH_ORDER[hclen - 1]) === 0) hclen--;

	// The block's size in bits, to choose between it and a stored block.
	let bits: u64 = 3 + 5 + 5 + 4 + 3 * <u64>hclen;
	for (let s = 0; s < CODE_LENGTH_SYMBOLS; s++) {
		const used = <u64>load<u32>(codeLengthCounts + ((<usize>s) << 2));
		const extra: u64 = s >= 16 ? <u64>EXTRA_BITS_OF_RUN[s - 16] : 0;
		bits += used * (<u64>load<u8>(codeLengthLengths + s) + extra);
	}
	for (let s = 0; s < LITLEN_SYMBOLS; s++) {
		const used = <u64>load<u32>(litlenCounts + ((<usize>s) << 2));
		if (used === 0) continue;
		// Symbols past 256 are matches: length extra bits and a 1-bit distance code.
		const extra: u64 = s > END_OF_BLOCK ? <u64>LENGTH_EXTRA[s - 257] + 1 : 0;
		bits += used * (<u64>load<u8>(litlenLengths + s) + extra);
	}
	const storedBlocks = (length + MAX_STORED - 1) / MAX_STORED;
	if (<u64>storedBlocks * (3 + 7 + 32) + 8 * <u64>length <= bits) {
		for (let start = 0; start < length; start += MAX_STORED) {
			const size = min(MAX_STORED, length - start);
			putBits(last && start + size === length ? 1 : 0, 3);
			flushToByte();
			store<u16>(out, <u16>size);
			store<u16>(out + 2, ~(<u16>size));
			memory.copy(out + 4, data + start, size);
			out += 4 + size;
		}
		return;
	}

	putBits((last ? 1 : 0) | (2 << 1), 3);
	putBits(hlit - 257, 5);
	putBits(2 - 1, 5);
	putBits(hclen - 4, 4);
	for (let i = 0; i < hclen; i++) putBits(load<u8>(codeLengthLengths + <i32>CODE_LENGTH_ORDER[i]), 3);
	for (let i = 0; i < runs; i++) {
		const run = <i32>load<u16>(headerRuns + ((<usize>i) << 1));
		const symbol = run & 0xff;
		putBits(load<u16>(codeLengthCodes + ((<usize>symbol) << 1)), load<u8>(codeLengthLengths + symbol));
		if (symbol >= 16) putBits(run >> 8, EXTRA_BITS_OF_RUN[symbol - 16]);
	}
	emitTokens(tokens, count);
	putBits(load<u16>(litlenCodes + (END_OF_BLOCK << 1)), load<u8>(litlenLengths + END_OF_BLOCK));
}

/**
 * Writes `count` tokens with the block's literal/length code. Each token's bits are added to
 * a 64-bit buffer whose whole bytes are then stored at once, without a branch: the buffer holds
 * at most 31 bits before the first token (putBits's) and 7 after each store. Four literals in a
 * row, the common case, share one store when their codes are 14 bits or shorter (4 x 14 + 7
 * bits fit), else two; any other token (at most 15 + 5 + 1 bits) is stored alone.
 */
/** The high bytes of four u16 tokens: all zero when the four are literals. */
const TOKEN_HIGH_BYTES: u64 = ((<u64>0xff00ff00) << 32) | 0xff00ff00;

function emitTokens(tokens: usize, count: i32): void {
	let longest: u32 = 0;
	for (let s = 0; s < END_OF_BLOCK; s++) {
		const length = <u32>load<u8>(litlenLengths + s);
		store<u32>(literalEntries + ((<usize>s) << 2), <u32>load<u16>(litlenCodes + ((<usize>s) << 1)) | (length << 16));
		longest = max(longest, length);
	}
	const fourAtOnce = longest <= 14;
	let buffer = bitBuffer;
	let bits = <u64>bitCount;
	let at = out;
	let i = 0;
	while (i < count) {
		const from = tokens + ((<usize>i) << 1);
		if (i + 4 <= count && (load<u64>(from) & TOKEN_HIGH_BYTES) === 0) {
			const four = load<u64>(from);
			const e0 = load<u32>(literalEntries + ((<usize>(<u32>four & 0xff)) << 2));
			const e1 = load<u32>(literalEntries + ((<usize>(<u32>(four >>> 16) & 0xff)) << 2));
			const e2 = load<u32>(literalEntries + ((<usize>(<u32>(four >>> 32) & 0xff)) << 2));
			const e3 = load<u32>(literalEntries + ((<usize>(<u32>(four >>> 48) & 0xff)) << 2));
			buffer |= (<u64>(e0 & 0xffff)) << bits;
			bits += <u64>(e0 >>> 16);
			buffer |= (<u64>(e1 & 0xffff)) << bits;
			bits += <u64>(e1 >>> 16);
			if (!fourAtOnce) {
				store<u64>(at, buffer);
				const whole = bits & ~(<u64>7);
				at += <usize>(whole >> 3);
				buffer >>= whole;
				bits &= 7;
			}
			buffer |= (<u64>(e2 & 0xffff)) << bits;
			bits += <u64>(e2 >>> 16);
			buffer |= (<u64>(e3 & 0xffff)) << bits;
			bits += <u64>(e3 >>> 16);
			i += 4;
		} else {
			const token = <i32>load<u16>(from);
			if (token < MATCH_TOKEN) {
				const entry = load<u32>(literalEntries + ((<usize>token) << 2));
				buffer |= (<u64>(entry & 0xffff)) << bits;
				bits += <u64>(entry >>> 16);
			} else {
				const run = token - MATCH_TOKEN;
				const index = <i32>load<u8>(lengthSymbolOf + run);
				const symbol = 257 + index;
				const codeBits = <u64>load<u8>(litlenLengths + symbol);
				// Code, length extra bits, then distance code 0 (bit 0).
				const extra = <u64>((run - <i32>LENGTH_BASE[index]) & 0xff);
				buffer |= (<u64>load<u16>(litlenCodes + ((<usize>symbol) << 1)) | (extra << codeBits)) << bits;
				bits += codeBits + <u64>LENGTH_EXTRA[index] + 1;
			}
			i++;
		}
		store<u64>(at, buffer);
		const whole = bits & ~(<u64>7);
		at += <usize>(whole >> 3);
		buffer >>= whole;
		bits &= 7;
	}
	bitBuffer = buffer;
	bitCount = <u32>bits;
	out = at;
}

/**
 * Bytes the caller must reserve at `output` for a tile of `bytes` bytes: at worst every block
 * is stored, 5 bytes of header per stored block, plus the zlib header and checksum and the
 * spare bytes of the last 32-bit store.
 */
export function max_output_bytes(bytes: usize): usize {
	const blocks = (bytes + BLOCK_BYTES - 1) / BLOCK_BYTES;
	const storedPerBlock = (BLOCK_BYTES + <usize>MAX_STORED - 1) / <usize>MAX_STORED;
	return bytes + 5 * storedPerBlock * blocks + 2 + 4 + 8;
}

/**
 * Encodes a tile of `width` x `rows` samples of `sample_bytes` bytes at `tile` as one zlib
 * stream at `output`: float32 samples (4 bytes) with predictor 3, 16- or 8-bit integers (2 or
 * 1) with predictor 2. The tile is overwritten with its predicted bytes; `tokens` holds
 * BLOCK_BYTES u16 and `row` one row's bytes plus 32. `width` is a multiple of 16 and the tile
 * not empty. Returns the stream's length in bytes.
 */
export function encode_tile(
	tile: usize,
	width: i32,
	rows: i32,
	sample_bytes: i32,
	tokens: usize,
	row: usize,
	output: usize,
): usize {
	if (!tablesReady) prepareTables();
	if (sample_bytes === 4) {
		// One spare byte before the row, read by the differencing of its first 16 bytes.
		planesRow = row + 16;
		predictFloatingPoint(tile, width, rows);
	} else predictHorizontal(tile, width, rows, sample_bytes);
	const predicted = tile;
	const length = <usize>width * <usize>rows * <usize>sample_bytes;
	out = output;
	bitBuffer = 0;
	bitCount = 0;
	// CMF: deflate, 32 KiB window; FLG: fastest compression level, check bits.
	store<u8>(out, 0x78);
	store<u8>(out + 1, 0x01);
	out += 2;
	let previous = -1;
	for (let start: usize = 0; start < length; start += BLOCK_BYTES) {
		const size = <i32>min(BLOCK_BYTES, length - start);
		writeBlock(predicted + start, size, previous, tokens, start + BLOCK_BYTES >= length);
		previous = <i32>load<u8>(predicted + start + size - 1);
	}
	flushToByte();
	const checksum = adler32(predicted, length);
	store<u32>(out, bswap<u32>(checksum));
	out += 4;
	return out - output;
}

/** Helpers inlined into tokenize's vector step. */
// biome-ignore lint/complexity/noStaticOnlyClass: Biome parses this file as TypeScript, which allows decorators only on class members.
class Bytes {
	/** Counts the low four bytes of `word`, byte k in literal table k. */
	@inline
	static count4(word: u64): void {
		const a = <usize>(((<u32>word) << 2) & 0x3fc);
		const b = <usize>(<u32>(word >>> 6) & 0x3fc);
		const c = <usize>(<u32>(word >>> 14) & 0x3fc);
		const d = <usize>(<u32>(word >>> 22) & 0x3fc);
		store<u32>(a, load<u32>(a, LITERAL_TABLE_0) + 1, LITERAL_TABLE_0);
		store<u32>(b, load<u32>(b, LITERAL_TABLE_1) + 1, LITERAL_TABLE_1);
		store<u32>(c, load<u32>(c, LITERAL_TABLE_2) + 1, LITERAL_TABLE_2);
		store<u32>(d, load<u32>(d, LITERAL_TABLE_3) + 1, LITERAL_TABLE_3);
	}
}
