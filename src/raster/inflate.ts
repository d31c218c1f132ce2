/**
 * zlib inflate (TIFF Deflate) through the runtime's own DecompressionStream. In workerd it
 * runs native zlib and measures faster than pako per block (`npm run bench:decode` prints
 * both). The output is allocated once at its bound, and a stream that inflates past it (a
 * "zip bomb" of a few bytes that expands to gigabytes) is refused as soon as it does.
 */
export async function inflateNative(input: Uint8Array, maxBytes: number): Promise<Uint8Array> {
	const stream = new DecompressionStream("deflate");
	const writer = stream.writable.getWriter();
	// Awaited only after the output is drained: the writes complete as it is read. The
	// handler keeps a corrupt stream's write rejection from going unhandled when the read
	// below throws first.
	const written = Promise.all([writer.write(input as Uint8Array<ArrayBuffer>), writer.close()]);
	written.catch(() => undefined);
	const reader = stream.readable.getReader();
	const out = new Uint8Array(maxBytes);
	let length = 0;
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			if (length + value.byteLength > maxBytes) {
				await reader.cancel();
				throw new Error(`Deflate: the block inflates past ${maxBytes} bytes`);
			}
			out.set(value, length);
			length += value.byteLength;
		}
		await written;
	} catch (error) {
		if (error instanceof Error && error.message.startsWith("Deflate:")) throw error;
		// The runtime reports corrupt data as a bare TypeError; name what failed instead.
		throw new Error(
			`Deflate: the block does not inflate (${error instanceof Error ? error.message || error.name : error})`,
			{
				cause: error,
			},
		);
	}
	return length === maxBytes ? out : out.subarray(0, length);
}
