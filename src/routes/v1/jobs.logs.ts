/**
 * GET /v1/jobs/{id}/logs: the job's log from the moment it was queued, in words for its tenant
 * (never stack traces or internal exception text, which stay in the operator's log stream under
 * the same trace id), a page at a time, from a minimum level up.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { LOG_LEVELS, listJobLogs } from "../../db/job-logs";
import { getTenantJob, isTerminal } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { jobLogsExample } from "./examples";
import { decodeCursor, encodeCursor, pageLimit } from "./paging";
import { JobIdParam } from "./schemas";

/** A cursor is the last row's id, base64url-encoded, so clients treat it as opaque. */
const logCursor = {
	encode: (id: number) => encodeCursor(`log:${id}`),
	decode(text: string): number | null {
		const match = /^log:(\d{1,15})$/.exec(decodeCursor(text) ?? "");
		return match?.[1] ? Number(match[1]) : null;
	},
};

const JobLogsQuery = z.object({
	level: z
		.enum(LOG_LEVELS)
		.default("info")
		.openapi({
			param: { name: "level", in: "query" },
			description:
				"The least level to list: `debug` lists every row (each window's start among them), `error` only failures",
			example: "info",
		}),
	offset: z
		.string()
		.refine((text) => logCursor.decode(text) !== null, "must be the `next` of an earlier page")
		.optional()
		.openapi({
			param: { name: "offset", in: "query" },
			description: "The `next` of the previous page (an opaque cursor); the first page without it",
			example: jobLogsExample.next ?? undefined,
		}),
	limit: pageLimit("Rows"),
});

const JobLogSchema = z
	.object({
		id: z.string().openapi({ description: "The row's id, unique within the job", example: "17" }),
		time: z.iso.datetime(),
		level: z.enum(LOG_LEVELS),
		stage: z.string().openapi({ description: "The stage it happened in, or is waiting for", example: "compute" }),
		window: z.number().int().optional().openapi({ description: "The window of a window stage", example: 3 }),
		attempt: z.number().int().min(1).optional().openapi({ description: "The delivery's attempt", example: 1 }),
		code: z.string().optional().openapi({
			description:
				"What happened, for programs: `queued`, `started`, `succeeded`, `retrying`, `canceled`, `dead_lettered`, or the failing problem's code",
			example: "succeeded",
		}),
		message: z.string().openapi({ example: "compute window 3 finished in 412 ms" }),
		data: z
			.record(z.string(), z.unknown())
			.optional()
			.openapi({ description: "Details; on the row where the job failed, its problem document under `problem`" }),
		trace_id: z.string().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
		span_id: z
			.string()
			.openapi({ description: "The span of GET /v1/jobs/{id}/trace it belongs to", example: "00f067aa0ba902b7" }),
	})
	.openapi("JobLog");

export const listJobLogsRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/logs",
	operationId: "listJobLogs",
	tags: ["jobs"],
	summary: "Read a job's log",
	description:
		"What happened to the job, oldest first, from the moment it was queued: each stage, window and retry, and the problem on the row where it failed. Follow `next` as `offset` until it is null; while the job runs, `next` is always given, so a client can follow the log as it grows.",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	request: { params: JobIdParam, query: JobLogsQuery },
	responses: {
		200: {
			description: "A page of the job's log",
			headers: keyedHeaders,
			content: {
				"application/json": {
					schema: z
						.object({
							logs: z.array(JobLogSchema),
							next: z.string().nullable().openapi({
								description:
									"Pass as `offset` for the rows after this page. While the job is queued or running it is never null (poll with it for new rows); once the job has ended it is null on the last page",
								example: jobLogsExample.next,
							}),
						})
						.openapi("JobLogs"),
					example: jobLogsExample,
				},
			},
		},
		...problemResponses(401, 403, 404, 422, 429),
	},
});

export function registerListJobLogs(app: App): void {
	app.openapi(listJobLogsRoute, async function listJobLogsOfJob(c) {
		const { id } = c.req.valid("param");
		const { level, offset, limit } = c.req.valid("query");
		const { tenantId } = c.get("principal");
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const levels = LOG_LEVELS.slice(LOG_LEVELS.indexOf(level));
		const afterId = offset === undefined ? 0 : (logCursor.decode(offset) ?? 0);
		// One more than a page tells whether another follows.
		const rows = await listJobLogs(c.env.DB, tenantId, id, { levels, afterId, limit: limit + 1 });
		const page = rows.slice(0, limit);
		const last = page.at(-1);
		return c.json(
			{
				logs: page.map((row) => ({
					id: String(row.id),
					time: row.at,
					level: row.level,
					stage: row.stage,
					...(row.window === null ? {} : { window: row.window }),
					...(row.attempt === null ? {} : { attempt: row.attempt }),
					...(row.code === null ? {} : { code: row.code }),
					message: row.message,
					...(row.data === null ? {} : { data: row.data }),
					trace_id: row.traceId,
					span_id: row.spanId,
				})),
				// A live job's log grows: its last page still hands on where to read from next.
				next: rows.length > limit || !isTerminal(job.status) ? logCursor.encode(last?.id ?? afterId) : null,
			},
			200,
		);
	});
}
