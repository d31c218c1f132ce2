/**
 * zlib inflate (TIFF Deflate) through the runtime's own DecompressionStream. In workerd it
 * runs native zlib and measures faster than pako per block (`npm run bench:decode` prints
 * both); when the decoded size is known the output is allocated once.
 */
export async function inflateNative(input: Uint8Array, expectedBytes?: number): Promise<Uint8Array> {
	const stream = new DecompressionStream("deflate");
	const writer = stream.writable.getWriter();
	// Awaited only after the output is drained: the writes complete as it is read. The
	// handler keeps a corrupt stream's write rejection from going unhandled when the read
	// below throws first.
	const written = Promise.all([writer.write(input as Uint8Array<ArrayBuffer>), writer.close()]);
	written.catch(() => undefined);
	const reader = stream.readable.getReader();
	const chunks: Uint8Array[] = [];
	let out = expectedBytes === undefined ? null : new Uint8Array(expectedBytes);
	let length = 0;
	for (;;) {
		const { done, value } = await reader.read();
		if (done) break;
		if (out && length + value.byteLength <= out.length) out.set(value, length);
		else {
			// More than announced (or nothing announced): collect and join at the end.
			if (out) chunks.push(out.subarray(0, length));
			out = null;
			chunks.push(value);
		}
		length += value.byteLength;
	}
	await written;
	if (out) return length === out.length ? out : out.subarray(0, length);
	const joined = new Uint8Array(length);
	let offset = 0;
	for (const chunk of chunks) {
		joined.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return joined;
}
