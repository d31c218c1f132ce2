/** DELETE /v1/webhooks/{id}: removes an endpoint, its pending deliveries and their record. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { deleteWebhook } from "../../db/webhooks";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { log } from "../../observability/log";
import { WebhookIdParam } from "./webhook-schemas";

export const deleteWebhookRoute = createRoute({
	method: "delete",
	path: "/v1/webhooks/{id}",
	operationId: "deleteWebhook",
	tags: ["webhooks"],
	summary: "Delete a webhook endpoint",
	description:
		"Nothing more is delivered to it, retries included; the endpoint and its deliveries answer 404 from then on. Jobs that named it in notify.webhook_ids simply notify it no more.",
	middleware: [requireScope("webhooks:write")] as const,
	security: bearerWith("webhooks:write"),
	request: { params: WebhookIdParam },
	responses: {
		204: { description: "Deleted", headers: keyedHeaders },
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerDeleteWebhook(app: App): void {
	app.openapi(deleteWebhookRoute, async function deleteWebhookEndpoint(c) {
		const { id } = c.req.valid("param");
		if (!(await deleteWebhook(c.env.DB, c.get("principal").tenantId, id))) {
			throw new ApiError("not-found", `Webhook ${id} does not exist.`);
		}
		log.info("webhook_deleted", { trace_id: c.get("trace").traceId, webhook_endpoint_id: id });
		return c.body(null, 204);
	});
}
