/**
 * The pipeline's two plug-in contracts. A stage handler: parse a message, do the work, report,
 * and the dispatcher acks or retries. A process: one kind of job (an index raster, zonal
 * statistics, …) plugged into the stages, which hold no knowledge of any process: ingest and
 * validate read the inputs for every process alike, then each stage calls the job's process at
 * its one point of variation, and the order of the stages a job runs through is the process's
 * data. A process is registered once (./processes.ts) and found by the job's `process`.
 */
import type { z } from "zod";
import type { ArtifactRecord } from "../db/artifacts";
import type { JobRecord, JobRequest, JobWarningRecord } from "../db/jobs";
import type { ApiError } from "../errors/api-error";
import type { OutputOptions } from "../raster/output-type";
import type { ResultItem } from "../stac/item";
import type { JobMessage } from "./message";
import type { JobPlan, StripSpan } from "./plan";
import type { InspectedInput } from "./raster-plan";

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

/**
 * What publish records for a job: its artifacts (already written), its warnings, event detail,
 * and what the job's STAC Item says of its result (publish adds item.json to the artifacts).
 */
export interface PublishedResult {
	artifacts: ArtifactRecord[];
	warnings: JobWarningRecord[];
	detail?: Record<string, unknown>;
	item: ResultItem;
}

/** One window's partial of a pass, as kept in D1 (JSON). */
export type WindowPartial = unknown;

export interface Process {
	/** The `process` of a job request. */
	readonly name: string;
	/**
	 * The stages a job of this request runs through, in order: ingest and validate first, then
	 * the process's own, publish last. Stages named here must exist in the stage table.
	 */
	stages(request: JobRequest): readonly string[];
	/** validate: the job's plan from its inputs' headers, or the problem that makes it impossible. */
	plan(context: StageContext, inputs: readonly InspectedInput[]): Promise<JobPlan | ApiError>;
	/**
	 * A window stage's first pass (compute): one window's partial result. Objects it writes go
	 * under the job's work prefix; a thrown ApiError fails the job, any other error is retried.
	 */
	computeWindow(context: StageContext, plan: JobPlan, window: StripSpan): Promise<WindowPartial>;
	/** A window stage's second pass (histogram): one window again, with every window's first-pass partial. */
	revisitWindow?(
		context: StageContext,
		plan: JobPlan,
		window: StripSpan,
		partials: readonly { index: number; partial: WindowPartial }[],
	): Promise<WindowPartial>;
	/**
	 * store: what result.tif is, for a process whose windows write its tiles: the description it
	 * carries and the sample type its tiles were encoded in (float32 when absent).
	 */
	resultRaster?(job: JobRecord): { description: string | undefined; output: OutputOptions | undefined };
	/**
	 * publish's steps before {@link publish}, for a process whose publishing would not fit one
	 * invocation's memory: each runs in a delivery of its own, in order, and leaves what it makes
	 * in R2 (an artifact, or an object under the job's work prefix) for the steps after it. None
	 * for a job small enough to publish in one.
	 */
	publishSteps?(context: StageContext, plan: JobPlan): Promise<readonly PublishStep[]>;
	/** publish: writes the job's artifacts from its partials (or its steps' objects) and says what to record. */
	publish(context: StageContext, plan: JobPlan): Promise<PublishedResult>;
}

/**
 * One step of a process's publish. Run again when its delivery is, it must write the same objects
 * again; a thrown ApiError fails the job, any other error is retried.
 */
export interface PublishStep {
	/** What the step makes, as the stage's event names it: "statistics", "zones.csv". */
	readonly name: string;
	run(context: StageContext, plan: JobPlan): Promise<void>;
}
