/**
 * The webhooks queue's consumer: one attempt at one delivery per message. An attempt takes its
 * turn in D1 (so a duplicated message sends nothing twice), signs the thin payload with the
 * reference library (standardwebhooks' Webhook.sign) under the endpoint's secret, and the
 * previous one while a rotation's 24 hours last, and POSTs it without following redirects
 * (src/raster/remote.ts, the one module that fetches URLs tenants give).
 *
 * What an answer means:
 *   2xx                         delivered
 *   410 Gone                    the receiver wants no more: the endpoint is disabled
 *   408, 429, 5xx, unreachable  retried on RETRY_DELAYS_SECONDS (with jitter), 10 attempts over a day
 *   3xx and any other 4xx       failed, not retried: a redirect is never followed (it could lead
 *                               anywhere, private addresses included), and a receiver refusing
 *                               the payload would refuse the same bytes again
 * Unreachable is every network-level failure: refused, reset, DNS, TLS, or no answer within
 * WEBHOOK_TIMEOUT_MS. As for remote inputs, tenants see only that word, never the error's text.
 *
 * A retry is a new queue message for the next attempt, sent with its delay (Queues allow at most
 * 12 hours, which the longest step stays under); the delivery row keeps the count, so the queue's
 * own retries are left for failures of this consumer itself.
 */
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import {
	type AttemptRecord,
	abandonWebhook,
	type ClaimedWebhook,
	claimWebhookAttempt,
	recordWebhookAttempt,
	type WebhookEndpointRecord,
} from "../db/webhooks";
import { randomHex } from "../ids";
import { describeError, log } from "../observability/log";
import { loopbackAllowed, postWebhook, type WebhookAnswer } from "../raster/remote";
import { artifactHref, ITEM_ARTIFACT } from "../stac/item";
import { ATTEMPT_LEASE_MS, queueWebhookAttempts } from "./outbox";
import { openSecret, secretsKey } from "./secrets";

/**
 * Seconds before attempts 2 to 10: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, about
 * 23.7 hours in all; each is jittered by up to a fifth either way.
 */
export const RETRY_DELAYS_SECONDS = [30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800] as const;
/** Cloudflare Queues' longest delaySeconds. */
const MAX_QUEUE_DELAY_SECONDS = 43_200;

export const webhookQueueMessage = z.object({
	webhook_message_id: z.string(),
	attempt: z.number().int().min(1),
	job_id: z.string(),
	trace_id: z.string(),
});

/** The delay before attempt `attempt + 1`, jittered by `random` (0 to 1); null after the last. */
export function retryDelaySeconds(attempt: number, random: number): number | null {
	const base = RETRY_DELAYS_SECONDS[attempt - 1];
	if (base === undefined) return null;
	return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, Math.round(base * (0.8 + 0.4 * random))));
}

/** The thin payload: what happened to which job, and where to read more. */
export function webhookPayload(delivery: ClaimedWebhook, fallbackBaseUrl: string): string {
	const base = delivery.baseUrl ?? fallbackBaseUrl;
	const status = delivery.event === "job.progress" ? "running" : delivery.event.slice("job.".length);
	return JSON.stringify({
		type: delivery.event,
		timestamp: delivery.createdAt,
		data: {
			job_id: delivery.jobId,
			status,
			...(delivery.stage ? { stage: delivery.stage } : {}),
			links: {
				job: `${base}/v1/jobs/${delivery.jobId}`,
				// item.json (STAC) lists every artifact with its href; only a succeeded job has them.
				artifacts: delivery.event === "job.succeeded" ? artifactHref(base, delivery.jobId, ITEM_ARTIFACT) : null,
			},
		},
	});
}

/**
 * The webhook-signature header: `v1,<signature>` under the endpoint's secret and, while the
 * previous secret has not expired at `at`, under that one too, space-separated.
 */
export async function signatureHeader(
	env: Pick<Env, "WEBHOOK_SECRETS_KEY">,
	endpoint: Pick<WebhookEndpointRecord, "secretSealed" | "previousSecretSealed" | "previousExpiresAt">,
	webhookId: string,
	at: Date,
	body: string,
): Promise<string> {
	const key = await secretsKey(env);
	const sealed = [endpoint.secretSealed];
	if (
		endpoint.previousSecretSealed &&
		endpoint.previousExpiresAt &&
		Date.parse(endpoint.previousExpiresAt) > at.getTime()
	)
		sealed.push(endpoint.previousSecretSealed);
	const signatures = await Promise.all(
		sealed.map(async (secret) => new Webhook(await openSecret(key, secret)).sign(webhookId, at, body)),
	);
	return signatures.join(" ");
}

/** What an answer makes of the delivery (see the module's header). */
function judge(answer: WebhookAnswer): { outcome: AttemptRecord["outcome"]; retry: boolean; gone: boolean } {
	if (answer.kind === "unreachable") return { outcome: "unreachable", retry: true, gone: false };
	const { status } = answer;
	if (status >= 200 && status < 300) return { outcome: "delivered", retry: false, gone: false };
	const retry = status === 408 || status === 429 || status >= 500;
	return { outcome: "failed", retry, gone: status === 410 };
}

/** Makes one attempt at a delivery taken for it; returns the attempt as recorded. */
async function attempt(env: Env, delivery: ClaimedWebhook, endpoint: WebhookEndpointRecord) {
	const attemptedAt = new Date();
	const body = webhookPayload(delivery, env.PUBLIC_BASE_URL);
	const headers = {
		"content-type": "application/json",
		"user-agent": "EO-Edge-Webhooks/1",
		"webhook-id": delivery.id,
		"webhook-timestamp": String(Math.floor(attemptedAt.getTime() / 1000)),
		"webhook-signature": await signatureHeader(env, endpoint, delivery.id, attemptedAt, body),
	};
	const started = Date.now();
	const posted = await postWebhook(
		endpoint.url,
		{ headers, body },
		{ timeoutMs: env.WEBHOOK_TIMEOUT_MS, allowLoopback: loopbackAllowed(env) },
	);
	// A URL no longer allowed (ALLOW_LOOPBACK_URLS turned off since) reads unreachable, not retried.
	const refused = posted.kind === "refused" ? posted.reason : null;
	const answer: WebhookAnswer = posted.kind === "refused" ? { kind: "unreachable" } : posted;
	const latencyMs = Date.now() - started;
	const verdict = judge(answer);
	const delay = verdict.retry && refused === null ? retryDelaySeconds(delivery.attempt, Math.random()) : null;
	const record: AttemptRecord = {
		id: `wha_${randomHex(12)}`,
		messageId: delivery.id,
		endpointId: endpoint.id,
		event: delivery.event,
		jobId: delivery.jobId,
		attempt: delivery.attempt,
		attemptedAt: attemptedAt.toISOString(),
		outcome: verdict.outcome,
		httpStatus: answer.kind === "answered" ? answer.status : null,
		latencyMs,
		nextRetryAt: delay === null ? null : new Date(attemptedAt.getTime() + delay * 1000).toISOString(),
		messageStatus: verdict.outcome === "delivered" ? "delivered" : delay === null ? "failed" : "pending",
		disableEndpoint: verdict.gone ? "the receiver answered 410 Gone" : null,
	};
	await recordWebhookAttempt(env.DB, record);
	return { record, delay, refused };
}

async function deliverOne(env: Env, message: Message<unknown>): Promise<void> {
	const parsed = webhookQueueMessage.safeParse(message.body);
	if (!parsed.success) {
		log.error("webhook_message_rejected", { message_id: message.id, issues: parsed.error.issues });
		message.ack();
		return;
	}
	const body = parsed.data;
	const fields = {
		trace_id: body.trace_id,
		job_id: body.job_id,
		webhook_id: body.webhook_message_id,
		attempt: body.attempt,
	};
	const leaseUntil = new Date(Date.now() + ATTEMPT_LEASE_MS).toISOString();
	const delivery = await claimWebhookAttempt(env.DB, body.webhook_message_id, body.attempt, leaseUntil);
	if (!delivery) {
		// Delivered, given up, deleted, or this attempt taken by a duplicate of the message.
		log.info("webhook_attempt_skipped", fields);
		message.ack();
		return;
	}
	const endpoint = delivery.endpoint;
	if (!endpoint || endpoint.disabledAt) {
		await abandonWebhook(env.DB, delivery.id);
		log.info("webhook_abandoned", { ...fields, reason: endpoint ? "endpoint disabled" : "endpoint deleted" });
		message.ack();
		return;
	}
	const { record, delay, refused } = await attempt(env, delivery, endpoint);
	const logged = {
		...fields,
		webhook_endpoint_id: endpoint.id,
		webhook_event: delivery.event,
		outcome: record.outcome,
		http_status: record.httpStatus ?? undefined,
		latency_ms: record.latencyMs,
	};
	if (refused) log.warn("webhook_url_refused", { ...logged, reason: refused });
	else if (record.outcome === "delivered") log.info("webhook_delivered", logged);
	else log.warn("webhook_attempt_failed", { ...logged, retry_in_seconds: delay ?? undefined });
	if (record.disableEndpoint) log.warn("webhook_endpoint_disabled", { ...logged, reason: record.disableEndpoint });
	if (delay !== null) {
		await queueWebhookAttempts(env, [{ ...body, attempt: body.attempt + 1 }], delay);
	}
	message.ack();
}

/**
 * Entry point for the webhooks queue: every message settles on its own. A failure of this
 * consumer itself (D1 or the queue unavailable) lets the queue deliver the message again.
 */
export async function deliverWebhookBatch(batch: MessageBatch<unknown>, env: Env): Promise<void> {
	await Promise.all(
		batch.messages.map(async (message) => {
			try {
				await deliverOne(env, message);
			} catch (error) {
				log.error("webhook_dispatch_failed", { message_id: message.id, ...describeError(error) });
				message.retry({ delaySeconds: Math.min(300, 10 * 2 ** (message.attempts - 1)) });
			}
		}),
	);
}
