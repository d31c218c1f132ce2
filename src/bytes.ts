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
