/**
 * GET /v1/jobs/{id}/trace: the job's trace as OTLP/JSON, which any OpenTelemetry collector takes
 * unchanged at its OTLP/HTTP endpoint (`POST /v1/traces`, `Content-Type: application/json`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listAllJobLogs } from "../../db/job-logs";
import { getTenantJob } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { jobTrace } from "../../observability/otlp";
import { jobTraceExample } from "./examples";
import { JobIdParam } from "./schemas";

/** Rows read for one trace: a job of a few thousand windows, each started and ended, fits. */
const MAX_TRACE_ROWS = 20_000;

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const NANOS = /^\d+$/;

const AttributeSchema = z
	.object({
		key: z.string(),
		value: z
			.object({ stringValue: z.string(), intValue: z.string(), boolValue: z.boolean() })
			.partial()
			.openapi({ description: "One of the OTLP AnyValue forms (64-bit integers are strings)" }),
	})
	.openapi("OtlpAttribute");

const SpanSchema = z
	.object({
		traceId: z.string().regex(HEX_32).openapi({ description: "32 lower-case hex digits: the job's trace_id" }),
		spanId: z.string().regex(HEX_16).openapi({ description: "16 lower-case hex digits" }),
		parentSpanId: z
			.string()
			.regex(HEX_16)
			.optional()
			.openapi({ description: "Absent on the job's root span unless the creating request sent a traceparent" }),
		name: z.string().openapi({ example: "compute window 3" }),
		kind: z
			.number()
			.int()
			.openapi({ description: "1 internal (the job), 2 server (the request), 5 consumer (a delivery)" }),
		startTimeUnixNano: z.string().regex(NANOS),
		endTimeUnixNano: z.string().regex(NANOS),
		attributes: z.array(AttributeSchema),
		events: z.array(
			z.object({ timeUnixNano: z.string().regex(NANOS), name: z.string(), attributes: z.array(AttributeSchema) }),
		),
		status: z.object({
			code: z.number().int().openapi({ description: "0 unset, 1 ok, 2 error" }),
			message: z.string().optional(),
		}),
	})
	.openapi("OtlpSpan");

const TraceSchema = z
	.object({
		resourceSpans: z.array(
			z.object({
				resource: z.object({ attributes: z.array(AttributeSchema) }),
				scopeSpans: z.array(
					z.object({ scope: z.object({ name: z.string(), version: z.string() }), spans: z.array(SpanSchema) }),
				),
			}),
		),
	})
	.openapi("OtlpTrace");

export const getJobTraceRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/trace",
	operationId: "getJobTrace",
	tags: ["jobs"],
	summary: "Get a job's trace (OTLP/JSON)",
	description:
		"The job as one OpenTelemetry trace: a root span from submission to its end (child of the caller's span when the creating request sent a `traceparent`), the request that created it, and one span per stage attempt, window and part, with retries and failures as span events and an error status. POST it unchanged to an OTLP/HTTP collector's `/v1/traces`. A running job's open spans end now and carry `eo.unfinished`.",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	request: { params: JobIdParam },
	responses: {
		200: {
			description: "The job's trace",
			headers: keyedHeaders,
			content: { "application/json": { schema: TraceSchema, example: jobTraceExample } },
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerGetJobTrace(app: App, version: string): void {
	app.openapi(getJobTraceRoute, async function getJobTrace(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const rows = await listAllJobLogs(c.env.DB, job.id, MAX_TRACE_ROWS);
		return c.json(jobTrace(job, rows, new Date(), version), 200);
	});
}
