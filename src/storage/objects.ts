/** Bulk removal of R2 objects under a key prefix (R2 lists and deletes up to 1000 keys a call). */

export async function deleteObjectsUnder(bucket: R2Bucket, prefix: string): Promise<void> {
	let cursor: string | undefined;
	do {
		const listing = await bucket.list({ prefix, cursor, limit: 1000 });
		if (listing.objects.length > 0) await bucket.delete(listing.objects.map((object) => object.key));
		cursor = listing.truncated ? listing.cursor : undefined;
	} while (cursor);
}
