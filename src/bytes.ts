/** Byte arrays joined end to end into one of their summed length. */
export function concatenated(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
	const joined = new Uint8Array(chunks.reduce((length, chunk) => length + chunk.byteLength, 0));
	let at = 0;
	for (const chunk of chunks) {
		joined.set(chunk, at);
		at += chunk.byteLength;
	}
	return joined;
}

/** Whether `bytes` start with `magic`, a format's tag. */
export function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
	return bytes.byteLength >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}

/**
 * `bytes` where they start on an 8-byte boundary of their buffer, else a copy of them in a buffer
 * of their own, so that float64 views of them can be made in place.
 */
export function eightByteAligned<T extends Uint8Array>(bytes: T): T | Uint8Array<ArrayBuffer> {
	return bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
}
