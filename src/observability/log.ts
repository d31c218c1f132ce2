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

/** The message and stack of anything thrown, in a loggable shape. */
export function describeError(error: unknown): { message: string; stack?: string | undefined } {
	if (error instanceof Error) return { message: error.message, stack: error.stack };
	return { message: String(error) };
}
