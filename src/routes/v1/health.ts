/** GET /v1/health: liveness, with the API version. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { problemResponses, tracedHeaders } from "../../errors/openapi";
import { healthExample } from "./examples";

export const healthRoute = createRoute({
	method: "get",
	path: "/v1/health",
	operationId: "getHealth",
	tags: ["service"],
	summary: "Service health",
	responses: {
		200: {
			description: "The service is up",
			headers: tracedHeaders,
			content: {
				"application/json": {
					schema: z
						.object({ status: z.literal("ok"), version: z.string().openapi({ example: "1.1.0" }) })
						.openapi("Health"),
					example: healthExample,
				},
			},
		},
		...problemResponses(),
	},
});

export function registerHealth(app: App, version: string): void {
	app.openapi(healthRoute, function getHealth(c) {
		return c.json({ status: "ok" as const, version }, 200);
	});
}
