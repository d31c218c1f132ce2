/**
 * What a failure to read a job's input means: a storage fault may pass and is rethrown for a
 * retry; a vanished upload or an unreadable file cannot, and becomes the job's problem.
 */
import { ApiError } from "../errors/api-error";
import { RasterObjectMissing, StorageReadError } from "./r2-source";

/** Returns the problem that ends the job, or rethrows a fault a retry may cure. */
export function inputReadFailure(input: { name: string; uploadId: string }, error: unknown, doing: string): ApiError {
	if (error instanceof StorageReadError) throw error;
	if (error instanceof RasterObjectMissing) {
		return new ApiError("input-unavailable", `input '${input.name}': upload ${input.uploadId} is no longer stored`, {
			errors: [{ path: `inputs.${input.name}.upload_id`, message: "upload not found in storage" }],
		});
	}
	const reason = error instanceof Error ? error.message : String(error);
	return new ApiError("invalid-raster", `input '${input.name}': ${doing} failed (${reason})`, {
		errors: [{ path: `inputs.${input.name}`, message: reason }],
	});
}
