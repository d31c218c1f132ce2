/** Store's reads from R2: a few at once, each streamed straight to where its bytes belong. */

/** Runs `work` on every item with at most `limit` running at once; the first failure is thrown. */
export async function forEachConcurrently<T>(
	items: readonly T[],
	limit: number,
	work: (item: T) => Promise<void>,
): Promise<void> {
	let next = 0;
	let failed = false;
	const worker = async () => {
		while (next < items.length && !failed) {
			const item = items[next++] as T;
			try {
				await work(item);
			} catch (error) {
				failed = true;
				throw error;
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Copies a stream of exactly `length` bytes into `destination` from `at`. */
export async function readInto(
	stream: ReadableStream<Uint8Array>,
	destination: Uint8Array,
	at: number,
	length: number,
): Promise<void> {
	let received = 0;
	for await (const chunk of stream) {
		if (received + chunk.byteLength > length) throw new Error(`more than the ${length} bytes asked for`);
		destination.set(chunk, at + received);
		received += chunk.byteLength;
	}
	if (received !== length) throw new Error(`${received} bytes instead of ${length}`);
}
