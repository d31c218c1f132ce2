/**
 * The outbox's sending side. Deliveries are owed in D1 in the same batch as the job change they
 * announce (src/db/jobs.ts); once that batch has landed, sendOwedWebhooks queues the job's new
 * ones on the webhooks queue. Should the worker stop in between, or a queue message be lost,
 * the cron's resendOverdueWebhooks queues them again: a delivery is never owed and forgotten.
 * Sending is off the job's critical path: a failure here is logged, never thrown at the job.
 */
import {
	expireWebhooks,
	listOverdueWebhooks,
	listUnsentWebhooks,
	markWebhooksSent,
	type WebhookSend,
} from "../db/webhooks";
import { describeError, log } from "../observability/log";

const SEND_BATCH_LIMIT = 100;
/** How long a queued or taken attempt may take before the cron takes it for lost: well past the timeout. */
export const ATTEMPT_LEASE_MS = 5 * 60_000;
const MINUTE_MS = 60_000;
/** A delivery not queued this long after it was owed was missed by its job's send. */
const UNSENT_GRACE_MS = 2 * MINUTE_MS;
/** A queued attempt not taken this long after it was due was lost (a queue's own lag is far shorter). */
const OVERDUE_GRACE_MS = 15 * MINUTE_MS;
/** Longer than the whole retry schedule: a delivery still pending after this is given up. */
const DELIVERY_MAX_AGE_MS = 2 * 24 * 60 * MINUTE_MS;

/** Queues the first attempt of each delivery; each message's delay is its own. */
export async function queueWebhookAttempts(env: Env, sends: readonly WebhookSend[], delaySeconds = 0): Promise<void> {
	for (let start = 0; start < sends.length; start += SEND_BATCH_LIMIT) {
		const chunk = sends.slice(start, start + SEND_BATCH_LIMIT);
		await env.WEBHOOKS_QUEUE.sendBatch(
			chunk.map((body) => ({ body, contentType: "json" as const, ...(delaySeconds > 0 ? { delaySeconds } : {}) })),
		);
		await markWebhooksSent(
			env.DB,
			chunk.map((send) => send.webhook_message_id),
			new Date(Date.now() + delaySeconds * 1000 + ATTEMPT_LEASE_MS).toISOString(),
		);
	}
}

/** Queues what the job's last change owed its webhooks; the cron catches what this misses. */
export async function sendOwedWebhooks(env: Env, jobId: string, traceId: string): Promise<void> {
	try {
		const sends = await listUnsentWebhooks(env.DB, jobId);
		await queueWebhookAttempts(env, sends);
		if (sends.length > 0) log.info("webhooks_queued", { trace_id: traceId, job_id: jobId, deliveries: sends.length });
	} catch (error) {
		log.warn("webhooks_not_queued", { trace_id: traceId, job_id: jobId, ...describeError(error) });
	}
}

export interface WebhookResendReport {
	resent: number;
	expired: number;
}

/**
 * The cron's pass: queues again the deliveries never queued, or whose queued attempt was lost,
 * and gives up on those older than the retry schedule could have run.
 */
export async function resendOverdueWebhooks(env: Env, now: number): Promise<WebhookResendReport> {
	const expired = await expireWebhooks(env.DB, new Date(now - DELIVERY_MAX_AGE_MS).toISOString());
	const overdue = await listOverdueWebhooks(
		env.DB,
		{
			unsentBefore: new Date(now - UNSENT_GRACE_MS).toISOString(),
			dueBefore: new Date(now - OVERDUE_GRACE_MS).toISOString(),
		},
		SEND_BATCH_LIMIT * 5,
	);
	await queueWebhookAttempts(env, overdue);
	for (const send of overdue) {
		log.warn("webhook_resent", { trace_id: send.trace_id, job_id: send.job_id, webhook_id: send.webhook_message_id });
	}
	const report = { resent: overdue.length, expired };
	log.info("webhooks_swept", { ...report });
	return report;
}
