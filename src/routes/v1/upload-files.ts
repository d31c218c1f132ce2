/**
 * What every way of uploading shares once the bytes are in R2 (in one request or in parts):
 * the TIFF signature check and reading the header into the upload's description.
 */
import { ApiError } from "../../errors/api-error";
import { openRasterFile } from "../../raster/inputs";
import { inspectRaster, type RasterSummary, summarize } from "../../raster/inspect";

const TIFF_SIGNATURES = [
	[0x49, 0x49, 0x2a, 0x00],
	[0x4d, 0x4d, 0x00, 0x2a],
	[0x49, 0x49, 0x2b, 0x00],
	[0x4d, 0x4d, 0x00, 0x2b],
];
export const SIGNATURE_BYTES = 4;

export function isTiffSignature(bytes: Uint8Array): boolean {
	return TIFF_SIGNATURES.some((signature) => signature.every((byte, position) => bytes[position] === byte));
}

export function notATiff(): ApiError {
	return new ApiError(
		"unsupported-media-type",
		"The body is not a TIFF file: it must start with a TIFF signature (II*, MM*, or BigTIFF). Send the file's raw bytes, not a form.",
	);
}

/**
 * Reads the header of a stored file; when it cannot be read the object is deleted and the
 * client gets `invalid-raster`.
 */
export async function describeStoredTiff(env: Env, key: string, bytes: number): Promise<RasterSummary> {
	try {
		return summarize(await inspectRaster(await openRasterFile(env, { objectKey: key, href: null, bytes })));
	} catch (error) {
		await env.BUCKET.delete(key);
		const reason = error instanceof Error ? error.message : String(error);
		throw new ApiError("invalid-raster", `The file has a TIFF signature but its header cannot be read: ${reason}.`, {
			errors: [{ path: "(body)", message: reason }],
		});
	}
}
