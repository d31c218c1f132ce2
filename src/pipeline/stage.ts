/** The contract between the dispatcher and a stage: parse a message, do the work, report. */
import type { z } from "zod";
import type { JobRecord } from "../db/jobs";
import type { ApiError } from "../errors/api-error";
import type { JobMessage } from "./message";
import type { Process } from "./process";

export interface StageContext {
	env: Env;
	job: JobRecord;
	/** The job's process, which the stage calls where processes differ. */
	process: Process;
	traceId: string;
	attempt: number;
}

/**
 * `done`: the stage did its work (or found it already done). `failed`: the job cannot
 * succeed (bad input); retrying would not help, so the job ends with this problem.
 * A thrown error means "try again": the dispatcher retries with backoff.
 */
export type StageOutcome = { kind: "done"; detail?: Record<string, unknown> } | { kind: "failed"; error: ApiError };

export interface StageHandler<M extends JobMessage = JobMessage> {
	message: z.ZodType<M>;
	handle(message: M, context: StageContext): Promise<StageOutcome>;
}

export const done = (detail?: Record<string, unknown>): StageOutcome =>
	detail ? { kind: "done", detail } : { kind: "done" };
export const failed = (error: ApiError): StageOutcome => ({ kind: "failed", error });
