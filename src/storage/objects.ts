/**
 * R2 objects as wholes: bulk removal under a key prefix (R2 lists and deletes up to 1000 keys a
 * call), digests, and bodies put from chunks or joined from stored parts.
 */
import { hex } from "../ids";

export async function deleteObjectsUnder(bucket: R2Bucket, prefix: string): Promise<void> {
	let cursor: string | undefined;
	do {
		const listing = await bucket.list({ prefix, cursor, limit: 1000 });
		if (listing.objects.length > 0) await bucket.delete(listing.objects.map((object) => object.key));
		cursor = listing.truncated ? listing.cursor : undefined;
	} while (cursor);
}

/**
 * An object's size and SHA-256 (hex), its body streamed through the digest so that even a
 * large result.tif is never held whole; null when there is no such object.
 */
export async function objectSha256(bucket: R2Bucket, key: string): Promise<{ size: number; sha256: string } | null> {
	const object = await bucket.get(key);
	if (!object) return null;
	// Workers' crypto.DigestStream; typed through the global class, as Node's DOM typing of crypto (for scripts) lacks it.
	const digest: DigestStream = new (crypto as unknown as { DigestStream: typeof DigestStream }).DigestStream("SHA-256");
	await object.body.pipeTo(digest);
	return { size: object.size, sha256: hex(await digest.digest) };
}

/**
 * Puts the object of `length` bytes that `chunks` give, streamed as they come: a body of chunks
 * joined first was held twice over (zones.csv and zones.geojson in bench:fields). R2 takes a
 * stream only of a length known beforehand, hence Workers' FixedLengthStream, which also fails
 * the put when the chunks give another length.
 */
export async function putChunks(
	bucket: R2Bucket,
	key: string,
	length: number,
	chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
	options: R2PutOptions,
): Promise<R2Object> {
	const { readable, writable } = new FixedLengthStream(length);
	const stored = bucket.put(key, readable, options);
	const writer = writable.getWriter();
	const pumped = (async () => {
		try {
			for await (const chunk of chunks) await writer.write(chunk);
			await writer.close();
		} catch (error) {
			await writer.abort(error).catch(() => undefined);
			throw error;
		}
	})();
	const [object] = await Promise.all([stored, pumped]);
	return object;
}

/**
 * Puts the object that `parts` (stored objects, of the sizes given) make one after another,
 * streamed from each part's body: an artifact written part by part is never held whole. A part
 * gone, or of another size than it was stored at, fails the put.
 */
export async function putJoined(
	bucket: R2Bucket,
	key: string,
	parts: readonly { key: string; size: number }[],
	options: R2PutOptions,
): Promise<R2Object> {
	const length = parts.reduce((sum, part) => sum + part.size, 0);
	return putChunks(bucket, key, length, partChunks(bucket, parts), options);
}

/** Each part's body, chunk by chunk; a body left unread (the put failed, or a part is not as stored) is cancelled. */
async function* partChunks(bucket: R2Bucket, parts: readonly { key: string; size: number }[]) {
	for (const part of parts) {
		const object = await bucket.get(part.key);
		if (!object || object.size !== part.size) {
			await object?.body.cancel();
			throw new Error(`part ${part.key} of ${part.size} bytes is ${object ? `${object.size} bytes` : "gone"}`);
		}
		const reader = object.body.getReader();
		let read = await reader.read();
		try {
			for (; !read.done; read = await reader.read()) yield read.value;
		} finally {
			if (!read.done) await reader.cancel().catch(() => undefined);
		}
	}
}
