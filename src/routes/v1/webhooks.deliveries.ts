/** GET /v1/webhooks/{id}/deliveries: every attempt at the endpoint's deliveries, newest first. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { findWebhook, listWebhookAttempts } from "../../db/webhooks";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { pageCursors, pageQuery } from "./paging";
import { renderAttempt, WebhookDeliverySchema, WebhookIdParam, webhookExamples } from "./webhook-schemas";

const cursors = pageCursors("wha");

const DeliveryListQuery = z.object({ ...pageQuery("Attempts", cursors, null) });

const WebhookDeliveryListSchema = z
	.object({
		deliveries: z.array(WebhookDeliverySchema),
		next: z.string().nullable().openapi({
			description: "Pass as `cursor` for the next page; null on the last page",
			example: null,
		}),
	})
	.openapi("WebhookDeliveryList");

export const listWebhookDeliveriesRoute = createRoute({
	method: "get",
	path: "/v1/webhooks/{id}/deliveries",
	operationId: "listWebhookDeliveries",
	tags: ["webhooks"],
	summary: "List a webhook endpoint's delivery attempts",
	description:
		"One entry per attempt, newest first: the event and job, the attempt's number, the receiver's HTTP status (or `unreachable` when it gave none: refused, reset, DNS, TLS or the timeout), the latency, and when the next attempt is due. Attempts of one event share its `webhook_id`.",
	middleware: [requireScope("webhooks:read")] as const,
	security: bearerWith("webhooks:read"),
	request: { params: WebhookIdParam, query: DeliveryListQuery },
	responses: {
		200: {
			description: "A page of attempts",
			headers: keyedHeaders,
			content: { "application/json": { schema: WebhookDeliveryListSchema, example: webhookExamples.deliveries } },
		},
		...problemResponses(401, 403, 404, 422, 429),
	},
});

export function registerListWebhookDeliveries(app: App): void {
	app.openapi(listWebhookDeliveriesRoute, async function listWebhookDeliveries(c) {
		const { id } = c.req.valid("param");
		const { limit, cursor } = c.req.valid("query");
		const endpoint = await findWebhook(c.env.DB, c.get("principal").tenantId, id);
		if (!endpoint) throw new ApiError("not-found", `Webhook ${id} does not exist.`);
		const after = cursor === undefined ? null : cursors.decode(cursor);
		const page = await listWebhookAttempts(c.env.DB, endpoint.id, { after, limit });
		return c.json(
			{ deliveries: page.attempts.map(renderAttempt), next: page.next ? cursors.encode(page.next) : null },
			200,
		);
	});
}
