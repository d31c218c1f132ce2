/**
 * What every way of uploading shares once the bytes are in R2 (in one request or in parts):
 * the answer to a body that is not a TIFF, and reading the header into the upload's description;
 * and how long an upload in parts stays open, and how one is abandoned.
 */
import { closeUploadSession, type UploadSessionRecord } from "../../db/upload-sessions";
import { ApiError } from "../../errors/api-error";
import { RasterInputError } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import { inspectRaster, type RasterSummary, summarize } from "../../raster/inspect";
import { StorageReadError } from "../../raster/r2-reader";

export function notATiff(): ApiError {
	return new ApiError(
		"unsupported-media-type",
		"The body is not a TIFF file: it must start with a TIFF signature (II*, MM*, or BigTIFF). Send the file's raw bytes, not a form.",
	);
}

/** Seconds a client is asked to wait before retrying when storage could not be read. */
const STORAGE_RETRY_AFTER_SECONDS = 5;

/**
 * Reads the header of a stored file. When the file is refused, the object is deleted and the
 * client gets the problem that says why; when storage could not be read, the object is kept
 * and the client gets a 503 to retry; any other error is ours and is rethrown (a 500 with the
 * trace id). In both of the last cases the caller decides what becomes of the object.
 */
export async function describeStoredTiff(env: Env, key: string, bytes: number): Promise<RasterSummary> {
	try {
		const { image } = await openRasterFile(env, { objectKey: key, href: null, bytes, allowedHosts: null });
		return summarize(await inspectRaster(image));
	} catch (error) {
		if (error instanceof StorageReadError) {
			throw new ApiError(
				"storage-unavailable",
				"The file was stored, but reading its header back from storage failed; retry after Retry-After seconds.",
				{ headers: { "Retry-After": String(STORAGE_RETRY_AFTER_SECONDS) }, cause: error },
			);
		}
		// Every malformed header is refused with a RasterInputError where it is found; anything else
		// is our fault, answered as an internal error with the trace id, never blamed on the file.
		if (!(error instanceof RasterInputError)) throw error;
		await env.BUCKET.delete(key);
		const errors = [{ path: "(body)", message: error.message }];
		throw new ApiError(error.code, `The file's header is refused: ${error.message}.`, { errors });
	}
}

/**
 * An upload in parts must be completed within this long of being opened: until then its
 * declared size holds against the daily quota, after it the session refuses parts and the
 * sweeper aborts it, so an abandoned session neither holds quota nor keeps its parts forever.
 */
export const UPLOAD_SESSION_TTL_MS = 24 * 60 * 60 * 1000;

/** The problem for a session that has expired (swept or not yet), or null while it may go on. */
export function sessionExpired(session: UploadSessionRecord, now: number): ApiError | null {
	const expired = session.expiredAt !== null || (session.status === "open" && Date.parse(session.expiresAt) <= now);
	if (!expired) return null;
	return new ApiError(
		"upload-closed",
		`Upload ${session.id} expired at ${session.expiresAt}: an upload in parts must be completed within ${UPLOAD_SESSION_TTL_MS / 3_600_000} h of being opened, and its parts are discarded. Open a new upload.`,
	);
}

/** Abandons an open session: its R2 multipart upload and the parts received are discarded. */
export async function abortUploadSession(env: Env, session: UploadSessionRecord): Promise<void> {
	await env.BUCKET.resumeMultipartUpload(session.objectKey, session.multipartId).abort();
	await closeUploadSession(env.DB, session.id, "aborted");
}
