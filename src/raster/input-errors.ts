/**
 * What a failure to read a job's input means. A file refused for what it holds, a remote server's
 * lasting answer or a vanished upload cannot improve and becomes the job's problem. A remote
 * server's passing trouble is rethrown as a TransientFault worded for the tenant; a storage fault
 * or any error not recognised here is ours, and is rethrown for the dispatcher to retry and, if
 * it persists, to report as an internal error without its text.
 */
import { ApiError, TransientFault } from "../errors/api-error";
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

/**
 * A remote server's answer as the job's problem, naming the request field `path` and what was
 * read (`subject`); a passing one is thrown as a TransientFault for the dispatcher to retry.
 */
export function remoteReadProblem(error: RemoteReadError, subject: string, path: string): ApiError {
	const detail = `${subject}: ${error.href}: ${error.reason}`;
	const errors = [{ path, message: error.reason }];
	if (error.retryable) throw new TransientFault(detail, errors, `${subject}: ${error.message}`, error);
	return new ApiError("input-unavailable", detail, { errors });
}

/** Returns the problem that ends the job, or rethrows a fault a retry may cure. */
export function inputReadFailure(input: InputIdentity, error: unknown, doing: string): ApiError {
	if (error instanceof StorageReadError) throw error;
	if (error instanceof RemoteReadError) {
		return remoteReadProblem(error, `input '${input.name}'`, `inputs.${input.name}.href`);
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
	// A malformed file is refused by a RasterInputError where it is found; anything else is a
	// fault of ours (or a case not yet classified), which must not be blamed on the file.
	throw new Error(`input '${input.name}': ${doing} failed`, { cause: error });
}
