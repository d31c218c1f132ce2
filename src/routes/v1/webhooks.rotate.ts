/**
 * POST /v1/webhooks/{id}/rotate-secret: a new signing secret. The previous one keeps signing beside
 * it for 24 hours (webhook-signature then carries both), so a receiver can switch without a gap.
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { rotateWebhookSecret } from "../../db/webhooks";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { log } from "../../observability/log";
import { newWebhookSecret, sealSecret, secretsKey } from "../../webhooks/secrets";
import { renderWebhook, WebhookIdParam, WebhookWithSecretSchema, webhookExamples } from "./webhook-schemas";

/** How long the secret a rotation replaces keeps signing. */
export const PREVIOUS_SECRET_LIFETIME_MS = 24 * 60 * 60 * 1000;

export const rotateWebhookSecretRoute = createRoute({
	method: "post",
	path: "/v1/webhooks/{id}/rotate-secret",
	operationId: "rotateWebhookSecret",
	tags: ["webhooks"],
	summary: "Rotate a webhook endpoint's signing secret",
	description:
		"Answers the new secret, shown only here. For 24 hours (`previous_secret_expires_at`) every delivery is signed with both secrets, two `v1,…` signatures space-separated in webhook-signature, so a receiver verifying with either passes; after that only the new one signs. Rotating again replaces the previous secret with the current one.",
	middleware: [requireScope("webhooks:write")] as const,
	security: bearerWith("webhooks:write"),
	request: { params: WebhookIdParam },
	responses: {
		200: {
			description: "The endpoint with its new secret",
			headers: keyedHeaders,
			content: { "application/json": { schema: WebhookWithSecretSchema, example: webhookExamples.rotated } },
		},
		...problemResponses(401, 403, 404, 429, 503),
	},
});

export function registerRotateWebhookSecret(app: App): void {
	app.openapi(rotateWebhookSecretRoute, async function rotateSecret(c) {
		const { id } = c.req.valid("param");
		const key = await secretsKey(c.env);
		const secret = newWebhookSecret();
		const expiresAt = new Date(Date.now() + PREVIOUS_SECRET_LIFETIME_MS).toISOString();
		const endpoint = await rotateWebhookSecret(
			c.env.DB,
			c.get("principal").tenantId,
			id,
			await sealSecret(key, secret),
			expiresAt,
		);
		if (!endpoint) throw new ApiError("not-found", `Webhook ${id} does not exist.`);
		log.info("webhook_secret_rotated", { trace_id: c.get("trace").traceId, webhook_endpoint_id: id });
		return c.json({ ...renderWebhook(endpoint), secret }, 200);
	});
}
