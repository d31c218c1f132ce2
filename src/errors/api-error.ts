/**
 * One error type for every failure a handler or stage reports on purpose, and the one
 * function that turns any error into an RFC 9457 problem.
 */
import type { ZodError } from "zod";
import { type ProblemCode, problemTypes, problemTypeUri } from "./problems";

export interface FieldError {
	path: string;
	message: string;
}

export interface Problem {
	type: string;
	title: string;
	status: number;
	detail: string;
	instance: string | null;
	trace_id: string;
	errors?: FieldError[] | undefined;
}

export class ApiError extends Error {
	readonly code: ProblemCode;
	readonly errors: FieldError[] | undefined;
	/** Response headers the problem needs, e.g. Content-Range on a 416. */
	readonly headers: Record<string, string>;

	constructor(
		code: ProblemCode,
		detail: string,
		options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
	) {
		super(detail, { cause: options.cause });
		this.name = "ApiError";
		this.code = code;
		this.errors = options.errors;
		this.headers = options.headers ?? {};
	}

	get status(): number {
		return problemTypes[this.code].status;
	}
}

/**
 * A fault that may clear by itself (a remote server's 503, a timeout): a stage throws it so the
 * dispatcher retries. `detail` and `errors` say in the tenant's words what kept failing, for the
 * job's problem should it never clear; the message and cause, with internals, go to the logs only.
 */
export class TransientFault extends Error {
	constructor(
		readonly detail: string,
		readonly errors: FieldError[] | undefined,
		logged: string,
		cause?: unknown,
	) {
		super(logged, { cause });
		this.name = "TransientFault";
	}
}

/** Builds the problem document for an ApiError; anything else is an internal error. */
export function toProblem(error: unknown, context: { instance: string | null; traceId: string }): Problem {
	const apiError = error instanceof ApiError ? error : new ApiError("internal-error", "An unexpected error occurred.");
	const { title, status } = problemTypes[apiError.code];
	const problem: Problem = {
		type: problemTypeUri(apiError.code),
		title,
		status,
		detail: apiError.message,
		instance: context.instance,
		trace_id: context.traceId,
	};
	if (apiError.errors?.length) problem.errors = apiError.errors;
	return problem;
}

/** The problem recorded on a job: its instance is the job's URL. */
export function jobProblem(error: unknown, jobId: string, traceId: string): Problem {
	return toProblem(error, { instance: `/v1/jobs/${jobId}`, traceId });
}

/**
 * A path into the request, names dotted and positions in brackets (`inputs.red.band`,
 * `dates[1].datetime`, `features[3].geometry`), under `prefix` (the request part, e.g. `query`):
 * zod's issues and the checks outside the schema name one field one way.
 */
export function fieldPath(segments: readonly PropertyKey[], prefix = ""): string {
	let written = prefix;
	for (const segment of segments) {
		if (typeof segment === "number") written += `[${segment}]`;
		else if (String(segment) !== "") written += written === "" ? String(segment) : `.${String(segment)}`;
	}
	return written;
}

export function validationError(target: string, error: ZodError): ApiError {
	const prefix = target === "json" ? "" : target;
	// An unknown key is reported at the key itself, so a client sees which field to remove.
	const errors = error.issues.flatMap((issue) =>
		issue.code === "unrecognized_keys"
			? issue.keys.map((key) => ({ path: fieldPath([...issue.path, key], prefix), message: "unknown field" }))
			: [{ path: fieldPath(issue.path, prefix) || "(body)", message: issue.message }],
	);
	const summary = errors.map((entry) => `${entry.path}: ${entry.message}`).join("; ");
	return new ApiError("validation-failed", summary, { errors });
}
