/** GET /v1/webhooks: the tenant's endpoints, newest first, a page at a time. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listTenantWebhooks } from "../../db/webhooks";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { pageCursors, pageQuery } from "./paging";
import { renderWebhook, WebhookSchema, webhookExamples } from "./webhook-schemas";

const cursors = pageCursors("whk");

const WebhookListQuery = z.object({ ...pageQuery("Endpoints", cursors, null) });

const WebhookListSchema = z
	.object({
		webhooks: z.array(WebhookSchema),
		next: z.string().nullable().openapi({
			description: "Pass as `cursor` for the next page; null on the last page",
			example: null,
		}),
	})
	.openapi("WebhookList");

export const listWebhooksRoute = createRoute({
	method: "get",
	path: "/v1/webhooks",
	operationId: "listWebhooks",
	tags: ["webhooks"],
	summary: "List webhook endpoints",
	description: "The tenant's endpoints, newest first, at most `limit` per page. Follow `next` until it is null.",
	middleware: [requireScope("webhooks:read")] as const,
	security: bearerWith("webhooks:read"),
	request: { query: WebhookListQuery },
	responses: {
		200: {
			description: "A page of endpoints",
			headers: keyedHeaders,
			content: { "application/json": { schema: WebhookListSchema, example: webhookExamples.list } },
		},
		...problemResponses(401, 403, 422, 429),
	},
});

export function registerListWebhooks(app: App): void {
	app.openapi(listWebhooksRoute, async function listWebhooks(c) {
		const { limit, cursor } = c.req.valid("query");
		const after = cursor === undefined ? null : cursors.decode(cursor);
		const page = await listTenantWebhooks(c.env.DB, c.get("principal").tenantId, { after, limit });
		const at = Date.now();
		return c.json(
			{
				webhooks: page.endpoints.map((endpoint) => renderWebhook(endpoint, at)),
				next: page.next ? cursors.encode(page.next) : null,
			},
			200,
		);
	});
}
