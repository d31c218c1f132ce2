/**
 * Structured logs: one JSON object per line, always with trace_id, job_id and stage when
 * they are known, so a job can be followed across the request and every queue.
 */

export interface LogFields {
	trace_id?: string | undefined;
	job_id?: string | undefined;
	stage?: string | undefined;
	[field: string]: unknown;
}

type Level = "debug" | "info" | "warn" | "error";

function write(level: Level, event: string, fields: LogFields): void {
	const line = JSON.stringify({ level, event, at: new Date().toISOString(), ...fields });
	if (level === "error") console.error(line);
	else if (level === "warn") console.warn(line);
	else console.log(line);
}

export const log = {
	info: (event: string, fields: LogFields = {}) => write("info", event, fields),
	warn: (event: string, fields: LogFields = {}) => write("warn", event, fields),
	error: (event: string, fields: LogFields = {}) => write("error", event, fields),
};

export interface ErrorDescription {
	message: string;
	stack?: string | undefined;
	cause?: ErrorDescription | undefined;
}

/**
 * The message, stack and causes of anything thrown, in a loggable shape. Errors shown to
 * tenants are worded for them; the cause chain is where the internal detail stays.
 */
export function describeError(error: unknown): ErrorDescription {
	if (!(error instanceof Error)) return { message: String(error) };
	const cause = error.cause === undefined ? undefined : describeError(error.cause);
	return { message: error.message, stack: error.stack, ...(cause ? { cause } : {}) };
}
