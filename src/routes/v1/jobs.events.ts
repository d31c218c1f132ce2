/** GET /v1/jobs/{id}/events: the job's timeline, one row per stage start, success, failure or retry. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listEvents } from "../../db/events";
import { getTenantJob } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { jobEventsExample } from "./examples";
import { JobIdParam } from "./schemas";

const EventSchema = z
	.object({
		stage: z.string().openapi({ example: "compute" }),
		status: z.enum(["started", "succeeded", "failed", "retrying", "dead_lettered"]),
		at: z.iso.datetime(),
		duration_ms: z.number().int().nullable().openapi({ example: 42 }),
		attempt: z.number().int().min(1).openapi({ example: 1 }),
		trace_id: z.string().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
		detail: z
			.record(z.string(), z.unknown())
			.nullable()
			.openapi({ example: { strip: 0, rows: [0, 128] } }),
	})
	.openapi("JobEvent");

export const listJobEventsRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/events",
	operationId: "listJobEvents",
	tags: ["jobs"],
	summary: "List a job's events",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	request: { params: JobIdParam },
	responses: {
		200: {
			description: "The events, oldest first",
			headers: keyedHeaders,
			content: {
				"application/json": {
					schema: z.object({ events: z.array(EventSchema) }).openapi("JobEvents"),
					example: jobEventsExample,
				},
			},
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerListJobEvents(app: App): void {
	app.openapi(listJobEventsRoute, async function listJobEvents(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		if (!(await getTenantJob(c.env.DB, tenantId, id))) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const events = await listEvents(c.env.DB, tenantId, id);
		return c.json(
			{
				events: events.map((event) => ({
					stage: event.stage,
					status: event.status as z.infer<typeof EventSchema>["status"],
					at: event.at,
					duration_ms: event.durationMs,
					attempt: event.attempt,
					trace_id: event.traceId,
					detail: event.detail,
				})),
			},
			200,
		);
	});
}
