/**
 * result.tif's R2 multipart upload across invocations: recorded in D1 once (src/db/store.ts),
 * resumed by every part, completed by the delivery that records the last part, and aborted
 * when the job ends without it, so no upload or part outlives its job.
 */
import {
	getResultUpload,
	listResultParts,
	markResultUploadAborted,
	markResultUploadCompleted,
	type ResultUploadRecord,
} from "../../db/store";

export const RESULT_ARTIFACT = "result.tif";

/** R2's smallest part, except for the last one. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

export function resumeResultUpload(bucket: R2Bucket, upload: ResultUploadRecord): R2MultipartUpload {
	return bucket.resumeMultipartUpload(upload.objectKey, upload.multipartId);
}

/** Whether the upload has become result.tif: its object is stored at its full size. */
export async function resultStored(bucket: R2Bucket, upload: ResultUploadRecord): Promise<boolean> {
	const object = await bucket.head(upload.objectKey);
	return object !== null && object.size === upload.totalBytes;
}

/**
 * Completes the upload with every part's recorded ETag and records it. Another delivery may have
 * completed it first (R2 then refuses this one): that counts as done when the object is there.
 * Returns false when the upload was aborted meanwhile (the job ended).
 */
export async function completeResultUpload(db: D1Database, bucket: R2Bucket, jobId: string): Promise<boolean> {
	const upload = await getResultUpload(db, jobId);
	if (!upload) throw new Error(`job ${jobId} has no result upload`);
	if (upload.abortedAt) return false;
	if (!upload.completedAt) {
		const parts = await listResultParts(db, jobId);
		if (parts.length !== upload.partCount) {
			throw new Error(`job ${jobId}: ${parts.length} of the ${upload.partCount} parts of result.tif are recorded`);
		}
		try {
			await resumeResultUpload(bucket, upload).complete(parts);
		} catch (error) {
			if (!(await resultStored(bucket, upload))) throw error;
		}
		await markResultUploadCompleted(db, jobId);
	}
	return (await getResultUpload(db, jobId))?.completedAt != null;
}

/**
 * Aborts the job's result upload unless it was completed, and records that it was; with the
 * upload go the parts it holds. Throws when R2 refuses, unless `markAnyway` (R2 itself drops
 * incomplete uploads after 7 days, so the sweeper's last pass does not retry forever).
 */
export async function abortResultUpload(
	db: D1Database,
	bucket: R2Bucket,
	upload: ResultUploadRecord & { jobId: string },
	{ markAnyway = false } = {},
): Promise<void> {
	if (upload.completedAt || upload.abortedAt) return;
	try {
		await resumeResultUpload(bucket, upload).abort();
	} catch (error) {
		if (!markAnyway) throw error;
	}
	await markResultUploadAborted(db, upload.jobId);
}
