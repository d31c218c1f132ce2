/**
 * TIFF LZW decoding (compression 5) in plain TypeScript: the reference the Wasm decoder
 * (wasm/assembly/decode.ts) is checked against, which it replaced in the read path. Codes of 9
 * to 12 bits, most significant bit first, with libtiff's "early change" of code width one code
 * before the table fills each width. Every table entry is remembered as the place in the output
 * where its string was last written, so emitting a code is a copy from earlier output.
 */
import { RasterInputError } from "../src/raster/input-errors";

const CLEAR_CODE = 256;
const END_OF_INFORMATION = 257;
const FIRST_FREE_CODE = 258;
const MIN_CODE_BITS = 9;
const MAX_CODE_BITS = 12;
const TABLE_SIZE = 1 << MAX_CODE_BITS;
/** Below this length a byte loop beats copyWithin's call overhead. */
const SHORT_COPY = 16;

/**
 * Decodes one LZW-compressed strip or tile into at most `expectedBytes` bytes (the block's
 * decoded size). Decoding stops at the end-of-information code, when the output is full, or
 * when the input runs out, as libtiff does; a shorter result (a file's last strip) is returned
 * at its length.
 */
export function decodeLzw(input: Uint8Array, expectedBytes: number): Uint8Array {
	const out = new Uint8Array(expectedBytes);
	const entryStart = new Int32Array(TABLE_SIZE);
	const entryLength = new Uint16Array(TABLE_SIZE);
	let codeBits = MIN_CODE_BITS;
	let nextCode = FIRST_FREE_CODE;
	let bits = 0;
	let bitCount = 0;
	let inputPos = 0;
	let pos = 0;
	let previousStart = -1;
	let previousLength = 0;

	while (pos < expectedBytes) {
		while (bitCount < codeBits) {
			if (inputPos >= input.length) return out.subarray(0, pos);
			bits = (bits << 8) | (input[inputPos++] as number);
			bitCount += 8;
		}
		bitCount -= codeBits;
		const code = (bits >>> bitCount) & ((1 << codeBits) - 1);

		if (code === CLEAR_CODE) {
			codeBits = MIN_CODE_BITS;
			nextCode = FIRST_FREE_CODE;
			previousStart = -1;
			continue;
		}
		if (code === END_OF_INFORMATION) break;

		let length: number;
		if (code < CLEAR_CODE) {
			out[pos] = code;
			length = 1;
		} else if (code < nextCode) {
			const start = entryStart[code] as number;
			length = Math.min(entryLength[code] as number, expectedBytes - pos);
			if (length < SHORT_COPY) {
				for (let i = 0; i < length; i++) out[pos + i] = out[start + i] as number;
			} else {
				out.copyWithin(pos, start, start + length);
			}
		} else if (code === nextCode && previousStart >= 0) {
			// The code being defined right now: the previous string plus its own first byte.
			length = Math.min(previousLength + 1, expectedBytes - pos);
			for (let i = 0; i < length; i++) out[pos + i] = out[previousStart + (i < previousLength ? i : 0)] as number;
		} else {
			throw new RasterInputError(
				"invalid-raster",
				`LZW: code ${code} is not in the table (next free code ${nextCode})`,
			);
		}

		if (previousStart >= 0 && nextCode < TABLE_SIZE) {
			// The new entry is the previous string followed by this one's first byte, which is
			// exactly what the output holds from the previous string's start.
			entryStart[nextCode] = previousStart;
			entryLength[nextCode] = previousLength + 1;
			nextCode++;
			if (nextCode >= (1 << codeBits) - 1 && codeBits < MAX_CODE_BITS) codeBits++;
		}
		previousStart = pos;
		previousLength = length;
		pos += length;
	}
	return pos === expectedBytes ? out : out.subarray(0, pos);
}
