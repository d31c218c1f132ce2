/** The shapes of /v1/webhooks: an endpoint as the API shows it, its secret, and its delivery attempts. */
import { z } from "@hono/zod-openapi";
import type { WebhookAttempt, WebhookEndpointRecord } from "../../db/webhooks";
import { WEBHOOK_ID_PATTERN } from "../../ids";
import { remoteHref } from "../../raster/remote";

export const webhookEvents = ["job.succeeded", "job.failed", "job.canceled", "job.progress"] as const;

export const WebhookEventSchema = z.enum(webhookEvents).openapi("WebhookEvent", {
	description:
		"job.succeeded, job.failed and job.canceled when the job ends; job.progress once each time a stage of the job completes",
});

export const webhookIdSchema = z
	.string()
	.regex(WEBHOOK_ID_PATTERN, "must be a webhook id (whk_ followed by 24 hex digits)")
	.openapi({ example: "whk_0123456789abcdef01234567" });

export const CreateWebhookSchema = z
	.strictObject({
		url: remoteHref.openapi({
			description:
				"Where deliveries are POSTed: an https:// URL of a public host, without credentials (in local development with ALLOW_LOOPBACK_URLS, also http(s)://127.0.0.1:<port> or localhost:<port>)",
			example: "https://hooks.example.com/eo-edge",
		}),
		events: z
			.array(WebhookEventSchema)
			.min(1)
			.max(webhookEvents.length * 4)
			.openapi({ description: "The events to receive; at least one", example: ["job.succeeded", "job.failed"] }),
	})
	.openapi("CreateWebhook");

const endpointExample = {
	id: "whk_0123456789abcdef01234567",
	url: "https://hooks.example.com/eo-edge",
	events: ["job.succeeded", "job.failed"],
	enabled: true,
	disabled_at: null,
	disabled_reason: null,
	previous_secret_expires_at: null,
	created_at: "2026-12-04T12:00:00.000Z",
	updated_at: "2026-12-04T12:00:00.000Z",
};

const SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw2l0ZYq8DYPc=";

export const webhookExamples = {
	endpoint: endpointExample,
	created: { ...endpointExample, secret: SECRET_EXAMPLE },
	rotated: {
		...endpointExample,
		secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD8TZmMrPJuKc=",
		previous_secret_expires_at: "2026-12-05T12:00:00.000Z",
		updated_at: "2026-12-04T12:00:00.000Z",
	},
	list: {
		webhooks: [endpointExample],
		next: null,
	},
	deliveries: {
		deliveries: [
			{
				id: "wha_89abcdef0123456789abcdef",
				webhook_id: "msg_0123456789abcdef01234567",
				event: "job.succeeded",
				job_id: "job_0123456789abcdef01234567",
				attempt: 2,
				attempted_at: "2026-12-04T12:00:41.000Z",
				outcome: "delivered",
				http_status: 200,
				latency_ms: 182,
				next_retry_at: null,
			},
			{
				id: "wha_0123456789abcdef01234567",
				webhook_id: "msg_0123456789abcdef01234567",
				event: "job.succeeded",
				job_id: "job_0123456789abcdef01234567",
				attempt: 1,
				attempted_at: "2026-12-04T12:00:10.000Z",
				outcome: "unreachable",
				http_status: null,
				latency_ms: 10000,
				next_retry_at: "2026-12-04T12:00:40.000Z",
			},
		],
		next: null,
	},
};

export const WebhookSchema = z
	.object({
		id: z.string().openapi({ example: endpointExample.id }),
		url: z.string().openapi({ example: endpointExample.url }),
		events: z.array(WebhookEventSchema),
		enabled: z.boolean().openapi({
			description: "False once the receiver answered 410 Gone: nothing is delivered to it any more",
			example: true,
		}),
		disabled_at: z.iso.datetime().nullable().openapi({ example: null }),
		disabled_reason: z.string().nullable().openapi({ example: null }),
		previous_secret_expires_at: z.iso.datetime().nullable().openapi({
			description:
				"After a rotation, until when the previous secret still signs beside the new one (both signatures in webhook-signature); null otherwise",
			example: null,
		}),
		created_at: z.iso.datetime().openapi({ example: endpointExample.created_at }),
		updated_at: z.iso.datetime().openapi({ example: endpointExample.updated_at }),
	})
	.openapi("Webhook");

const secretField = z.string().openapi({
	description:
		"The signing secret (whsec_ and base64 of 32 bytes), as standardwebhooks' Webhook takes it. Shown only here: store it now",
	example: SECRET_EXAMPLE,
});

// Its own object, not an allOf of Webhook: partners' generators then give it plain fields.
export const WebhookWithSecretSchema = z
	.object({ ...WebhookSchema.shape, secret: secretField })
	.openapi("WebhookWithSecret");

export const WebhookIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Webhook id; an id that names no endpoint of the tenant answers 404",
		example: endpointExample.id,
	}),
});

export function renderWebhook(endpoint: WebhookEndpointRecord, at = Date.now()): z.infer<typeof WebhookSchema> {
	const previousLive = endpoint.previousExpiresAt !== null && Date.parse(endpoint.previousExpiresAt) > at;
	return {
		id: endpoint.id,
		url: endpoint.url,
		events: endpoint.events,
		enabled: endpoint.disabledAt === null,
		disabled_at: endpoint.disabledAt,
		disabled_reason: endpoint.disabledReason,
		previous_secret_expires_at: previousLive ? endpoint.previousExpiresAt : null,
		created_at: endpoint.createdAt,
		updated_at: endpoint.updatedAt,
	};
}

export const WebhookDeliverySchema = z
	.object({
		id: z.string().openapi({ description: "This attempt's id", example: "wha_0123456789abcdef01234567" }),
		webhook_id: z.string().openapi({
			description: "The delivery's webhook-id header: the same on every attempt of one event, for deduplication",
			example: "msg_0123456789abcdef01234567",
		}),
		event: WebhookEventSchema,
		job_id: z.string().openapi({ example: "job_0123456789abcdef01234567" }),
		attempt: z.number().int().openapi({ description: "1 for the first attempt", example: 1 }),
		attempted_at: z.iso.datetime().openapi({ example: "2026-12-04T12:00:10.000Z" }),
		outcome: z.enum(["delivered", "failed", "unreachable"]).openapi({
			description:
				"delivered: a 2xx answer; failed: another answer (http_status says which); unreachable: no answer (refused, reset, DNS, TLS or the 10 s timeout)",
			example: "delivered",
		}),
		http_status: z
			.number()
			.int()
			.nullable()
			.openapi({ description: "The receiver's HTTP status; null when unreachable", example: 200 }),
		latency_ms: z.number().int().openapi({ description: "From sending to the answer's headers", example: 182 }),
		next_retry_at: z.iso.datetime().nullable().openapi({
			description: "When the next attempt is due; null when there is none (delivered, given up or not retried)",
			example: null,
		}),
	})
	.openapi("WebhookDelivery");

export function renderAttempt(attempt: WebhookAttempt): z.infer<typeof WebhookDeliverySchema> {
	return {
		id: attempt.id,
		webhook_id: attempt.messageId,
		event: attempt.event,
		job_id: attempt.jobId,
		attempt: attempt.attempt,
		attempted_at: attempt.attemptedAt,
		outcome: attempt.outcome,
		http_status: attempt.httpStatus,
		latency_ms: attempt.latencyMs,
		next_retry_at: attempt.nextRetryAt,
	};
}

export const JobNotifySchema = z
	.strictObject({
		webhook_ids: z
			.array(webhookIdSchema)
			.min(1)
			.max(20)
			.openapi({
				description:
					"The tenant's enabled webhook endpoints to notify of this job's events (each still only of the events it subscribes to); without `notify`, every enabled endpoint that subscribes to an event is notified",
				example: ["whk_0123456789abcdef01234567"],
			}),
	})
	.openapi("JobNotify", { description: "Which webhook endpoints hear of this job" });
