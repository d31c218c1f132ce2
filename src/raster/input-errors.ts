/**
 * What a failure to read a job's input means: a storage fault or a remote server's passing
 * trouble may clear and is rethrown for a retry; a vanished upload, a remote file that cannot
 * be read as a COG, or an unreadable file cannot, and becomes the job's problem.
 */
import { ApiError } from "../errors/api-error";
import type { ProblemCode } from "../errors/problems";
import { RasterObjectMissing, StorageReadError } from "./r2-reader";
import { RemoteReadError } from "./remote";

/**
 * A raster refused on what its header says: malformed (`invalid-raster`), beyond a configured
 * limit (`raster-too-large`) or of a layout EO Edge does not read (`unsupported-raster`).
 */
export class RasterInputError extends Error {
	constructor(
		readonly code: Extract<ProblemCode, "invalid-raster" | "raster-too-large" | "unsupported-raster">,
		message: string,
	) {
		super(message);
		this.name = "RasterInputError";
	}
}

export interface InputIdentity {
	name: string;
	uploadId: string | null;
	href: string | null;
}

/** Returns the problem that ends the job, or rethrows a fault a retry may cure. */
export function inputReadFailure(input: InputIdentity, error: unknown, doing: string): ApiError {
	if (error instanceof StorageReadError) throw error;
	if (error instanceof RemoteReadError) {
		if (error.retryable) throw new Error(`input '${input.name}': ${error.message}`, { cause: error });
		return new ApiError("input-unavailable", `input '${input.name}': ${error.message}`, {
			errors: [{ path: `inputs.${input.name}.href`, message: error.reason }],
		});
	}
	if (error instanceof RasterObjectMissing) {
		return new ApiError("input-unavailable", `input '${input.name}': upload ${input.uploadId} is no longer stored`, {
			errors: [{ path: `inputs.${input.name}.upload_id`, message: "upload not found in storage" }],
		});
	}
	if (error instanceof RasterInputError) {
		return new ApiError(error.code, `input '${input.name}': ${error.message}`, {
			errors: [{ path: `inputs.${input.name}`, message: error.message }],
		});
	}
	const reason = error instanceof Error ? error.message : String(error);
	return new ApiError("invalid-raster", `input '${input.name}': ${doing} failed (${reason})`, {
		errors: [{ path: `inputs.${input.name}`, message: reason }],
	});
}
