/** GET /v1/webhooks/{id}: one of the tenant's endpoints, without its secret. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { findWebhook } from "../../db/webhooks";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { renderWebhook, WebhookIdParam, WebhookSchema, webhookExamples } from "./webhook-schemas";

export const getWebhookRoute = createRoute({
	method: "get",
	path: "/v1/webhooks/{id}",
	operationId: "getWebhook",
	tags: ["webhooks"],
	summary: "Get a webhook endpoint",
	description:
		"The endpoint as registered, and whether it is still enabled (a 410 Gone from the receiver disables it, with the time and reason). The secret is never shown again.",
	middleware: [requireScope("webhooks:read")] as const,
	security: bearerWith("webhooks:read"),
	request: { params: WebhookIdParam },
	responses: {
		200: {
			description: "The endpoint",
			headers: keyedHeaders,
			content: { "application/json": { schema: WebhookSchema, example: webhookExamples.endpoint } },
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerGetWebhook(app: App): void {
	app.openapi(getWebhookRoute, async function getWebhook(c) {
		const { id } = c.req.valid("param");
		const endpoint = await findWebhook(c.env.DB, c.get("principal").tenantId, id);
		if (!endpoint) throw new ApiError("not-found", `Webhook ${id} does not exist.`);
		return c.json(renderWebhook(endpoint), 200);
	});
}
