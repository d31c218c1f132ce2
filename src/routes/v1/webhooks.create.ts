/**
 * POST /v1/webhooks: registers an endpoint that is POSTed the tenant's job events, signed as
 * Standard Webhooks specifies. The answer carries the signing secret, shown this once; D1 keeps
 * it sealed under WEBHOOK_SECRETS_KEY (src/webhooks/secrets.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { insertWebhookWithinLimit } from "../../db/webhooks";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses } from "../../errors/openapi";
import { newWebhookId } from "../../ids";
import { log } from "../../observability/log";
import { loopbackAllowed, remoteUrlRefusal } from "../../raster/remote";
import { newWebhookSecret, sealSecret, secretsKey } from "../../webhooks/secrets";
import {
	CreateWebhookSchema,
	renderWebhook,
	WebhookWithSecretSchema,
	webhookEvents,
	webhookExamples,
} from "./webhook-schemas";

export const createWebhookRoute = createRoute({
	method: "post",
	path: "/v1/webhooks",
	operationId: "createWebhook",
	tags: ["webhooks"],
	summary: "Register a webhook endpoint",
	description:
		"Every event of the tenant's jobs that the endpoint subscribes to is POSTed to `url` (a job's `notify.webhook_ids` narrows its own events to the endpoints it names), signed with the secret in the answer, which is shown only here and in a rotation's answer. A tenant has at most WEBHOOKS_MAX_PER_TENANT (20) endpoints. The URL follows the remote-input rules: https://, a public host, no credentials.",
	middleware: [requireScope("webhooks:write")] as const,
	security: bearerWith("webhooks:write"),
	request: {
		body: {
			required: true,
			content: {
				"application/json": {
					schema: CreateWebhookSchema,
					example: { url: webhookExamples.endpoint.url, events: webhookExamples.endpoint.events },
				},
			},
		},
	},
	responses: {
		201: {
			description: "Registered; `secret` is shown only now",
			headers: { ...keyedHeaders, ...locationHeader("/v1/webhooks/whk_0123456789abcdef01234567") },
			content: { "application/json": { schema: WebhookWithSecretSchema, example: webhookExamples.created } },
		},
		...problemResponses(400, 401, 403, 415, 422, 429, 503),
	},
});

export function registerCreateWebhook(app: App): void {
	app.openapi(createWebhookRoute, async function createWebhook(c) {
		const { url, events } = c.req.valid("json");
		const { tenantId } = c.get("principal");
		const refused = remoteUrlRefusal(new URL(url), { allowlists: [], allowLoopback: loopbackAllowed(c.env) });
		if (refused) {
			throw new ApiError("validation-failed", `url: ${refused}`, { errors: [{ path: "url", message: refused }] });
		}
		const key = await secretsKey(c.env);
		const secret = newWebhookSecret();
		const at = new Date().toISOString();
		const endpoint = {
			id: newWebhookId(),
			tenantId,
			url,
			// In the order of the event list, each once.
			events: webhookEvents.filter((event) => events.includes(event)),
			secretSealed: await sealSecret(key, secret),
			previousSecretSealed: null,
			previousExpiresAt: null,
			disabledAt: null,
			disabledReason: null,
			createdAt: at,
			updatedAt: at,
		};
		const limit = c.env.WEBHOOKS_MAX_PER_TENANT;
		if (!(await insertWebhookWithinLimit(c.env.DB, endpoint, limit))) {
			throw new ApiError(
				"quota-exceeded",
				`This tenant has ${limit} webhook endpoints, as many as it may; delete one it no longer needs.`,
			);
		}
		log.info("webhook_registered", { trace_id: c.get("trace").traceId, webhook_endpoint_id: endpoint.id, events });
		return c.json({ ...renderWebhook(endpoint), secret }, 201, { Location: `/v1/webhooks/${endpoint.id}` });
	});
}
