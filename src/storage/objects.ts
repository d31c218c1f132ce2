/** R2 objects as wholes: bulk removal under a key prefix (R2 lists and deletes up to 1000 keys a call), and digests. */
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
