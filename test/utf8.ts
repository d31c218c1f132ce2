import type { Utf8Chunks } from "../src/utf8-chunks";

/** All that `text` holds, its chunks drained and joined. */
export function drained(text: Utf8Chunks): Uint8Array {
	const chunks = [...text.drain()];
	const bytes = new Uint8Array(chunks.reduce((length, chunk) => length + chunk.byteLength, 0));
	let at = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, at);
		at += chunk.byteLength;
	}
	return bytes;
}
