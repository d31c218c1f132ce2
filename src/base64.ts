/**
 * Base64 (RFC 4648, standard alphabet, padded) of bytes, both ways, by table: for webhook secrets
 * and their sealed form, and for the partial fields, megabytes each, of zonal windows stored as
 * JSON by deploys before src/processes/zonal/window-fields.ts.
 */
/** The base64 alphabet's character codes (RFC 4648, with padding). */
const BASE64_CODES = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const PAD = 61; // "="

/**
 * What btoa gives for the bytes, by table into a byte array decoded once: zonal windows' partial
 * fields, when they were stored as base64, were megabytes, which a string built through
 * String.fromCharCode and btoa took about a millisecond per field to encode (bench:fields).
 */
export function base64(bytes: Uint8Array): string {
	const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
	const whole = bytes.length - (bytes.length % 3);
	let o = 0;
	for (let i = 0; i < whole; i += 3) {
		const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
		out[o++] = BASE64_CODES[n >>> 18] as number;
		out[o++] = BASE64_CODES[(n >>> 12) & 63] as number;
		out[o++] = BASE64_CODES[(n >>> 6) & 63] as number;
		out[o++] = BASE64_CODES[n & 63] as number;
	}
	if (whole < bytes.length) {
		const n = ((bytes[whole] as number) << 16) | ((bytes[whole + 1] ?? 0) << 8);
		out[o++] = BASE64_CODES[n >>> 18] as number;
		out[o++] = BASE64_CODES[(n >>> 12) & 63] as number;
		out[o++] = whole + 1 < bytes.length ? (BASE64_CODES[(n >>> 6) & 63] as number) : PAD;
		out[o++] = PAD;
	}
	return new TextDecoder().decode(out);
}

/** Each base64 character code's 6 bits, 255 for a code outside the alphabet. */
const BASE64_VALUES = (() => {
	const values = new Uint8Array(256).fill(255);
	BASE64_CODES.forEach((code, value) => {
		values[code] = value;
	});
	return values;
})();

/**
 * The bytes of {@link base64}'s text, by table into bytes of their own (offset 0): atob's binary
 * string beside them was as large again, for each of thousands of partials publish reads.
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
	const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
	if (text.length % 4 !== 0) throw new Error(`base64 of ${text.length} characters is not whole`);
	const bytes = new Uint8Array((text.length / 4) * 3 - padding);
	const sextet = (i: number) => {
		const value = BASE64_VALUES[text.charCodeAt(i) & 0xff] as number;
		if (value === 255 || text.charCodeAt(i) > 0xff)
			throw new Error(`base64 has a character outside its alphabet at ${i}`);
		return value;
	};
	const whole = padding > 0 ? text.length - 4 : text.length;
	let o = 0;
	for (let i = 0; i < whole; i += 4) {
		const n = (sextet(i) << 18) | (sextet(i + 1) << 12) | (sextet(i + 2) << 6) | sextet(i + 3);
		bytes[o++] = n >>> 16;
		bytes[o++] = (n >>> 8) & 0xff;
		bytes[o++] = n & 0xff;
	}
	if (padding > 0) {
		const n = (sextet(whole) << 18) | (sextet(whole + 1) << 12) | (padding === 1 ? sextet(whole + 2) << 6 : 0);
		bytes[o++] = n >>> 16;
		if (padding === 1) bytes[o++] = (n >>> 8) & 0xff;
	}
	return bytes;
}
