/**
 * The queue dispatcher: finds the consumer of a batch's queue, parses each message, runs the
 * stage and decides ack or retry. Stages never ack; they return an outcome or throw.
 */
import { eventStatement, type NewEvent } from "../db/events";
import { jobLogStatement, type NewJobLog } from "../db/job-logs";
import {
	addJobUsageStatement,
	getJob,
	inRequestTerms,
	isTerminal,
	type JobRequest,
	markStageRunning,
	markStageSettled,
} from "../db/jobs";
import { topLevelResourceName } from "../environment-names";
import { ApiError, type FieldError, jobProblem, type Problem, TransientFault } from "../errors/api-error";
import { oneAtATime } from "../isolate-memory";
import { describeError, log } from "../observability/log";
import { deliveryLabel, newSpanId } from "../observability/trace";
import { type BucketUse, meteredBucket } from "../storage/metered-bucket";
import { sendOwedWebhooks } from "../webhooks/outbox";
import { endJobAsFailed } from "./failure";
import { processNamed } from "./processes";
import { type QueueConsumer, queueConsumers } from "./registry";
import { stageDefinition } from "./stage-table";

const MAX_DELAY_SECONDS = 300;

/** Exponential backoff: base, 2 x base, 4 x base … seconds, capped at five minutes. */
export function retryDelaySeconds(baseSeconds: number, attempt: number): number {
	return Math.min(MAX_DELAY_SECONDS, Math.round(baseSeconds * 2 ** Math.max(0, attempt - 1)));
}

/** The fields of a message beyond its job and trace, e.g. the strip index, for event details. */
function messageDetail(body: Record<string, unknown>): Record<string, unknown> | undefined {
	const { job_id: _job, trace_id: _trace, sent_at: _sent, ...rest } = body;
	return Object.keys(rest).length > 0 ? rest : undefined;
}

/** The job and trace of a message that may not have parsed, for its log lines. */
function rawJobFields(body: unknown): { trace_id?: string; job_id?: string } {
	if (typeof body !== "object" || body === null) return {};
	const { trace_id, job_id } = body as Record<string, unknown>;
	return {
		...(typeof trace_id === "string" ? { trace_id } : {}),
		...(typeof job_id === "string" ? { job_id } : {}),
	};
}

/** What a heavy message's Wasm instances are kept for (src/isolate-memory.ts): the next message of its stage and job. */
export function heavyMessageKind(stage: string, body: unknown): string {
	return `${stage} ${rawJobFields(body).job_id ?? ""}`;
}

/** What one delivery of a job is: its stage, window (or part) and attempt, under its own span. */
interface Delivery {
	jobId: string;
	stage: string;
	window: number | undefined;
	attempt: number;
	traceId: string;
	spanId: string;
	/** How the log names it: "compute window 3", "store part 2", "publish step 1", "ingest". */
	label: string;
}

function deliveryOf(stage: string, body: Record<string, unknown>, attempt: number, spanId: string): Delivery {
	const window = typeof body.strip_index === "number" ? body.strip_index : undefined;
	const label = deliveryLabel(stage, { window, part: body.part, step: body.step });
	return {
		jobId: String(body.job_id),
		stage,
		window,
		attempt,
		traceId: String(body.trace_id),
		spanId,
		label,
	};
}

/**
 * Writes a timeline event, the log row that says it in words and, once a delivery settles, what
 * it used, in one batch. The timeline and the log are an aid: losing them must not fail or repeat
 * the stage's work, so a failure to write them is logged and swallowed.
 */
async function record(
	db: D1Database,
	delivery: Delivery,
	event: Pick<NewEvent, "status" | "durationMs" | "detail">,
	row: Pick<NewJobLog, "level" | "message" | "code" | "data" | "spanPhase" | "durationMs" | "queueWaitMs">,
	used?: BucketUse,
): Promise<void> {
	const { jobId, stage, attempt, traceId, spanId, window } = delivery;
	try {
		await db.batch([
			eventStatement(db, { jobId, stage, attempt, traceId, ...event }),
			jobLogStatement(db, { jobId, stage, window, attempt, traceId, spanId, ...row }),
			...(used ? [addJobUsageStatement(db, jobId, used)] : []),
		]);
	} catch (error) {
		log.warn("event_not_recorded", { trace_id: traceId, job_id: jobId, stage, ...describeError(error) });
	}
}

/**
 * Records a delivery that failed its job: the event, and the error row that carries the job's
 * problem; `settled` when the delivery had started (its span ends here), null when it never did.
 */
function recordFailure(
	db: D1Database,
	delivery: Delivery,
	detail: Record<string, unknown> | undefined,
	problem: Problem,
	settled: { durationMs: number; used: BucketUse } | null,
): Promise<void> {
	return record(
		db,
		delivery,
		{ status: "failed", durationMs: settled?.durationMs, detail: { ...detail, problem } },
		{
			level: "error",
			code: problemCode(problem),
			message: `${delivery.label} failed: ${problem.detail}`,
			data: { problem },
			...(settled ? { spanPhase: "end" as const, durationMs: settled.durationMs } : {}),
		},
		settled?.used,
	);
}

/** The short name of a problem's type (`…/problems/input-unavailable` → `input-unavailable`). */
function problemCode(problem: { type: string }): string {
	return problem.type.slice(problem.type.lastIndexOf("/") + 1);
}

/**
 * Marks the job as waiting for its next message once an invocation settles, so the sweeper does
 * not take a queue's delay for a stall. Like the timeline, a lost mark must not repeat the work:
 * the next invocation's start or settle corrects it.
 */
async function recordSettled(db: D1Database, jobId: string, traceId: string): Promise<void> {
	try {
		await markStageSettled(db, jobId);
	} catch (error) {
		log.warn("settle_not_recorded", { trace_id: traceId, job_id: jobId, ...describeError(error) });
	}
}

async function handleMessage(consumer: QueueConsumer, message: Message<unknown>, env: Env): Promise<void> {
	const parsed = consumer.handler.message.safeParse(message.body);
	if (!parsed.success) {
		// Retrying cannot repair a malformed message; it is logged and dropped.
		log.error("message_rejected", {
			...rawJobFields(message.body),
			stage: consumer.name,
			message_id: message.id,
			issues: parsed.error.issues,
		});
		message.ack();
		return;
	}
	const body = parsed.data;
	const fields = {
		trace_id: body.trace_id,
		job_id: body.job_id,
		stage: consumer.name,
		span_id: newSpanId(),
		attempt: message.attempts,
	};
	const job = await getJob(env.DB, body.job_id);
	if (!job) {
		log.warn("job_not_found", fields);
		message.ack();
		return;
	}
	if (isTerminal(job.status) && !consumer.acceptsEndedJobs) {
		log.info("job_already_ended", { ...fields, status: job.status });
		message.ack();
		return;
	}

	const detail = messageDetail(body);
	const delivery = deliveryOf(consumer.name, body, message.attempts, fields.span_id);
	const process = processNamed(job.process);
	if (!process) {
		// A deploy that dropped a process: retrying cannot bring it back.
		const problem = jobProblem(
			new ApiError("stage-failed", `the job's process '${job.process}' is not known to this deploy`),
			job.id,
			body.trace_id,
		);
		if (consumer.stage) await endJobAsFailed(env, job.id, problem);
		await recordFailure(env.DB, delivery, detail, problem, null);
		log.error("process_unknown", { ...fields, process: job.process });
		message.ack();
		return;
	}
	const started = Date.now();
	if (consumer.stage) {
		// Only forward along the job's own sequence: a late duplicate of an earlier stage leaves it.
		const sequence = process.stages(job.request);
		const reachable = sequence.slice(0, sequence.indexOf(consumer.stage) + 1);
		const moved = await markStageRunning(
			env.DB,
			job.id,
			consumer.stage,
			stageDefinition(consumer.stage).progress,
			reachable,
		);
		// Moving on completed the previous stage: its job.progress webhooks were owed with the move.
		if (moved.webhooksOwed) await sendOwedWebhooks(env, job.id, body.trace_id);
	}
	await record(
		env.DB,
		delivery,
		{ status: "started", detail },
		{
			// A job of a thousand windows logs each one's start only at debug level.
			level: delivery.window === undefined ? "info" : "debug",
			code: "started",
			message: `${delivery.label} started${message.attempts > 1 ? ` (attempt ${message.attempts})` : ""}`,
			data: detail,
			spanPhase: "start",
			queueWaitMs:
				message.attempts === 1 && body.sent_at !== undefined
					? Math.max(0, started - Date.parse(body.sent_at))
					: undefined,
		},
	);
	log.info("stage_started", fields);

	const metered = meteredBucket(env.BUCKET);
	try {
		const outcome = await consumer.handler.handle(body, {
			env: { ...env, BUCKET: metered.bucket },
			job,
			process,
			traceId: body.trace_id,
			attempt: message.attempts,
		});
		const durationMs = Date.now() - started;
		if (consumer.stage) await recordSettled(env.DB, job.id, body.trace_id);
		if (outcome.kind === "failed") {
			const problem = inRequestTerms(job.request, jobProblem(outcome.error, job.id, body.trace_id));
			await endJobAsFailed(env, job.id, problem);
			await recordFailure(env.DB, delivery, detail, problem, { durationMs, used: metered.use });
			log.warn("stage_failed_job", {
				...fields,
				duration_ms: durationMs,
				problem_type: problem.type,
				detail: problem.detail,
			});
		} else {
			const status = consumer.stage ? "succeeded" : "dead_lettered";
			const outcomeDetail = { ...detail, ...outcome.detail };
			await record(
				env.DB,
				delivery,
				{ status, durationMs, detail: outcomeDetail },
				consumer.stage
					? {
							level: "info",
							code: "succeeded",
							message: `${delivery.label} finished in ${durationMs} ms${nextStep(outcome.detail)}`,
							data: outcomeDetail,
							spanPhase: "end",
							durationMs,
						}
					: {
							level: "error",
							code: "dead_lettered",
							message: "a message of the job was given up on after its retries and set aside",
							data: outcomeDetail,
							spanPhase: "end",
							durationMs,
						},
				metered.use,
			);
			log.info(consumer.stage ? "stage_succeeded" : "dead_letter_recorded", { ...fields, duration_ms: durationMs });
		}
		message.ack();
	} catch (error) {
		await handleThrown(consumer, message, env, {
			delivery,
			fields,
			detail,
			error,
			durationMs: Date.now() - started,
			request: job.request,
			used: metered.use,
		});
	}
}

/** What a finished delivery handed on to, in words: "; validate queued". */
function nextStep(detail: Record<string, unknown> | undefined): string {
	return typeof detail?.next === "string" ? `; waiting for ${detail.next}` : "";
}

/**
 * What a tenant may learn of a thrown error: a TransientFault's own words, otherwise only that
 * an internal error happened and which trace_id the logs keep it under.
 */
function tenantReason(error: unknown, traceId: string): { detail: string; errors?: FieldError[] } {
	if (error instanceof TransientFault)
		return { detail: error.detail, ...(error.errors ? { errors: error.errors } : {}) };
	return { detail: `an internal error occurred; it is logged under trace_id ${traceId}` };
}

/**
 * A throw is retried with backoff. On the last attempt the job fails and the message is retried
 * once more, which hands it to the dead-letter queue. The job's problem, the events and the job's
 * log carry the tenant's reason only; the error's text and stack go to the operator's logs.
 */
async function handleThrown(
	consumer: QueueConsumer,
	message: Message<unknown>,
	env: Env,
	context: {
		delivery: Delivery;
		fields: Record<string, unknown> & { trace_id: string; job_id: string };
		detail: Record<string, unknown> | undefined;
		error: unknown;
		durationMs: number;
		request: JobRequest;
		used: BucketUse;
	},
): Promise<void> {
	const { delivery, fields, detail, error, durationMs, used } = context;
	const logged = describeError(error);
	const reason = inRequestTerms(context.request, tenantReason(error, fields.trace_id));
	const lastAttempt = message.attempts > consumer.maxRetries;
	if (!lastAttempt) {
		const delaySeconds = retryDelaySeconds(env.RETRY_BASE_DELAY_SECONDS, message.attempts);
		await record(
			env.DB,
			delivery,
			{ status: "retrying", durationMs, detail: { ...detail, error: reason.detail, delay_seconds: delaySeconds } },
			{
				level: "warning",
				code: "retrying",
				message: `${delivery.label} failed (attempt ${message.attempts} of ${consumer.maxRetries + 1}) and is retried in ${delaySeconds} s: ${reason.detail}`,
				data: {
					error: reason.detail,
					delay_seconds: delaySeconds,
					...(reason.errors ? { errors: reason.errors } : {}),
				},
				spanPhase: "end",
			},
			used,
		);
		log.warn("stage_retrying", { ...fields, duration_ms: durationMs, delay_seconds: delaySeconds, ...logged });
		if (consumer.stage) await recordSettled(env.DB, fields.job_id, fields.trace_id);
		message.retry({ delaySeconds });
		return;
	}
	const problem = jobProblem(
		new ApiError(
			"stage-failed",
			`stage ${consumer.name} failed ${message.attempts} times; last error: ${reason.detail}`,
			{
				...(reason.errors ? { errors: reason.errors } : {}),
			},
		),
		fields.job_id,
		fields.trace_id,
	);
	try {
		if (consumer.stage) await endJobAsFailed(env, fields.job_id, problem);
		await recordFailure(env.DB, delivery, detail, problem, { durationMs, used });
	} finally {
		log.error("stage_gave_up", { ...fields, duration_ms: durationMs, ...logged });
		// Past max_retries this retry moves the message to the dead-letter queue.
		message.retry();
	}
}

/**
 * Entry point for the worker's queue(): every message settles on its own. A heavy stage's
 * messages run one at a time (src/isolate-memory.ts); a light stage's batch runs at once.
 */
export async function dispatchBatch(
	batch: MessageBatch<unknown>,
	env: Env,
	consumers: ReadonlyMap<string, QueueConsumer> = queueConsumers,
): Promise<void> {
	// A deployed environment's queues carry its name (eo-edge-ingest-staging); the registry holds eo-edge-ingest.
	const consumer = consumers.get(topLevelResourceName(batch.queue, env.ENVIRONMENT ?? ""));
	if (!consumer) {
		log.error("queue_without_consumer", { queue: batch.queue, messages: batch.messages.length });
		batch.retryAll();
		return;
	}
	const settle = async (message: Message<unknown>) => {
		try {
			await handleMessage(consumer, message, env);
		} catch (error) {
			// Bookkeeping itself failed (e.g. D1 unavailable): let the queue deliver again.
			log.error("dispatch_failed", {
				...rawJobFields(message.body),
				stage: consumer.name,
				message_id: message.id,
				...describeError(error),
			});
			message.retry({ delaySeconds: retryDelaySeconds(env.RETRY_BASE_DELAY_SECONDS, message.attempts) });
		}
	};
	if (consumer.heavy) {
		await oneAtATime(batch.messages, (message) => heavyMessageKind(consumer.name, message.body), settle);
	} else {
		await Promise.all(batch.messages.map(settle));
	}
}
