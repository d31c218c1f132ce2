/** Field sets' collections in R2: stored as the tenant sent them, read back for a job. */

export const FIELD_COLLECTION_MEDIA_TYPE = "application/geo+json";

/** Stores the collection's bytes as they were sent, so nothing in them (ids, properties) changes. */
export async function writeFieldCollection(bucket: R2Bucket, objectKey: string, sent: string): Promise<number> {
	const stored = await bucket.put(objectKey, sent, { httpMetadata: { contentType: FIELD_COLLECTION_MEDIA_TYPE } });
	return stored.size;
}

/**
 * A copy of a stored collection under `toKey` (a job's own, so deleting the set later does not
 * change what the job reads); false when the object is gone.
 */
export async function copyFieldCollection(bucket: R2Bucket, fromKey: string, toKey: string): Promise<boolean> {
	const object = await bucket.get(fromKey);
	if (!object) return false;
	await bucket.put(toKey, object.body, { httpMetadata: { contentType: FIELD_COLLECTION_MEDIA_TYPE } });
	return true;
}

/**
 * The stored collection, parsed, or null when the object is gone (its set was deleted). It was
 * checked when stored; a job runs it through checkFieldCollection (src/fields/collection.ts) for
 * its features.
 */
export async function readFieldCollection(bucket: R2Bucket, objectKey: string): Promise<unknown> {
	const object = await bucket.get(objectKey);
	return object ? ((await object.json()) as unknown) : null;
}
