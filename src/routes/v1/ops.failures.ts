/**
 * GET /v1/ops/failures: the one place failures land. Every failed delivery that ended a job,
 * every dead-lettered message and every stalled job, across tenants, newest first: the
 * operator's view (`ops:read`), read from the jobs' logs through an index of their error rows.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listFailures } from "../../db/job-logs";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { opsFailuresExample } from "./examples";
import { decodeCursor, encodeCursor, pageLimit } from "./paging";

/** How far back `since` may reach: the view is for what is going wrong now, and stays cheap. */
const MAX_LOOKBACK_DAYS = 7;
const DEFAULT_LOOKBACK_MS = 24 * 3600 * 1000;

const failureCursor = {
	encode: (row: { at: string; id: number }) => encodeCursor(`${row.at}|${row.id}`),
	decode(text: string): { at: string; id: number } | null {
		const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|(\d{1,15})$/.exec(decodeCursor(text) ?? "");
		return match?.[1] && match[2] ? { at: match[1], id: Number(match[2]) } : null;
	},
};

const FailuresQuery = z.object({
	since: z.iso
		.datetime({ offset: true })
		.optional()
		.openapi({
			param: { name: "since", in: "query" },
			description: `Failures at or after this time (RFC 3339); default the last 24 hours, at most ${MAX_LOOKBACK_DAYS} days back`,
			example: "2026-11-25T00:00:00Z",
		}),
	stage: z
		.string()
		.max(64)
		.optional()
		.openapi({
			param: { name: "stage", in: "query" },
			description: "Only this stage's failures (or `dead-letter`)",
			example: "compute",
		}),
	code: z
		.string()
		.max(64)
		.optional()
		.openapi({
			param: { name: "code", in: "query" },
			description: "Only failures of this problem code, or `dead_lettered`",
			example: "input-unavailable",
		}),
	limit: pageLimit("Failures"),
	cursor: z
		.string()
		.refine((text) => failureCursor.decode(text) !== null, "must be the `next` of an earlier page")
		.optional()
		.openapi({ param: { name: "cursor", in: "query" }, description: "The `next` of the previous page" }),
});

const FailureSchema = z
	.object({
		time: z.iso.datetime(),
		tenant_id: z.string().nullable().openapi({ example: "ten_0123456789abcdef01234567" }),
		job_id: z.string().openapi({ example: "job_0123456789abcdef01234567" }),
		stage: z.string().openapi({ example: "ingest" }),
		window: z.number().int().optional(),
		attempt: z.number().int().optional().openapi({ example: 1 }),
		code: z.string().nullable().openapi({ example: "input-unavailable" }),
		message: z.string().openapi({ example: "ingest failed: input 'nir': the server answered 404 (not found)" }),
		problem: z
			.record(z.string(), z.unknown())
			.optional()
			.openapi({ description: "The job's problem document, on the row that failed it" }),
		trace_id: z.string().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
		span_id: z.string().openapi({ example: "00f067aa0ba902b7" }),
	})
	.openapi("OpsFailure");

export const listOpsFailuresRoute = createRoute({
	method: "get",
	path: "/v1/ops/failures",
	operationId: "listOpsFailures",
	tags: ["operations"],
	summary: "List failures across tenants (operators)",
	description:
		"Every job that failed and every message given up on, across tenants, newest first, with the tenant, stage, attempt, problem and trace id. Needs the `ops:read` scope, which tenant keys do not carry.",
	middleware: [requireScope("ops:read")] as const,
	security: bearerWith("ops:read"),
	request: { query: FailuresQuery },
	responses: {
		200: {
			description: "A page of failures",
			headers: keyedHeaders,
			content: {
				"application/json": {
					schema: z
						.object({
							failures: z.array(FailureSchema),
							next: z
								.string()
								.nullable()
								.openapi({ description: "Pass as `cursor` for older failures; null on the last page" }),
						})
						.openapi("OpsFailures"),
					example: opsFailuresExample,
				},
			},
		},
		...problemResponses(401, 403, 422, 429),
	},
});

export function registerListOpsFailures(app: App): void {
	app.openapi(listOpsFailuresRoute, async function listOpsFailures(c) {
		const query = c.req.valid("query");
		const now = Date.now();
		const earliest = now - MAX_LOOKBACK_DAYS * 24 * 3600 * 1000;
		const since = new Date(Math.max(earliest, query.since ? Date.parse(query.since) : now - DEFAULT_LOOKBACK_MS));
		const rows = await listFailures(
			c.env.DB,
			{ since: since.toISOString(), stage: query.stage ?? null, code: query.code ?? null },
			{ before: query.cursor ? failureCursor.decode(query.cursor) : null, limit: query.limit + 1 },
		);
		const page = rows.slice(0, query.limit);
		const last = page.at(-1);
		return c.json(
			{
				failures: page.map((row) => {
					const problem = row.data?.problem;
					return {
						time: row.at,
						tenant_id: row.tenantId,
						job_id: row.jobId,
						stage: row.stage,
						...(row.window === null ? {} : { window: row.window }),
						...(row.attempt === null ? {} : { attempt: row.attempt }),
						code: row.code,
						message: row.message,
						...(typeof problem === "object" && problem !== null ? { problem: problem as Record<string, unknown> } : {}),
						trace_id: row.traceId,
						span_id: row.spanId,
					};
				}),
				next: rows.length > query.limit && last ? failureCursor.encode(last) : null,
			},
			200,
		);
	});
}
