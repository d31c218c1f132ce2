/**
 * GET /v1/ops/stages: how each stage has been doing over a recent window: runs, failures,
 * retries, dead letters, and percentiles of run time and queue wait, from the start and end rows
 * the dispatcher writes for every delivery (read through their partial index, at most
 * MAX_DELIVERY_ROWS of them). The operator's view (`ops:read`).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { type DeliveryRow, listDeliveryRows } from "../../db/job-logs";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { opsStagesExample } from "./examples";

const WINDOW = /^(\d{1,4})(m|h)$/;
const MAX_WINDOW_MINUTES = 24 * 60;
/** Rows read for one answer; a window holding more reports over the first ones and says so. */
const MAX_DELIVERY_ROWS = 100_000;

function windowMinutes(text: string): number {
	const [, amount = "0", unit] = WINDOW.exec(text) ?? [];
	return Number(amount) * (unit === "h" ? 60 : 1);
}

const StagesQuery = z.object({
	window: z
		.string()
		.regex(WINDOW, "must be minutes or hours, e.g. 15m or 1h")
		.refine((text) => !WINDOW.test(text) || (windowMinutes(text) >= 1 && windowMinutes(text) <= MAX_WINDOW_MINUTES), {
			message: "must be between 1m and 24h",
		})
		.default("1h")
		.openapi({ param: { name: "window", in: "query" }, description: "How far back: 1m to 24h", example: "1h" }),
});

const PercentilesSchema = z
	.object({ p50: z.number(), p95: z.number(), p99: z.number() })
	.nullable()
	.openapi("OpsPercentiles", { description: "Milliseconds, nearest rank; null when nothing was measured" });

const StageFiguresSchema = z
	.object({
		stage: z.string().openapi({ example: "compute" }),
		runs: z.number().int().openapi({ description: "Deliveries started", example: 120 }),
		failures: z.number().int().openapi({ description: "Deliveries that failed their job", example: 1 }),
		retries: z.number().int().openapi({ description: "Deliveries that failed and were retried", example: 3 }),
		dead_letters: z.number().int().openapi({ description: "Messages of this stage given up on", example: 0 }),
		duration_ms: PercentilesSchema,
		queue_wait_ms: PercentilesSchema.openapi({
			description: "From a message's sending to its first delivery's start (retries' backoff left out)",
		}),
	})
	.openapi("OpsStageFigures");

export const listOpsStagesRoute = createRoute({
	method: "get",
	path: "/v1/ops/stages",
	operationId: "listOpsStages",
	tags: ["operations"],
	summary: "Per-stage figures over a recent window (operators)",
	description:
		"Per stage, over the last `window`: runs, failures, retries, dead letters, and p50/p95/p99 of run time and queue wait, from what the pipeline records for every delivery. Needs the `ops:read` scope.",
	middleware: [requireScope("ops:read")] as const,
	security: bearerWith("ops:read"),
	request: { query: StagesQuery },
	responses: {
		200: {
			description: "The figures",
			headers: keyedHeaders,
			content: {
				"application/json": {
					schema: z
						.object({
							window: z.string().openapi({ example: "1h" }),
							since: z.iso.datetime(),
							truncated: z.boolean().openapi({
								description: `True when the window held more than ${MAX_DELIVERY_ROWS} delivery rows and only the first were counted`,
							}),
							stages: z.array(StageFiguresSchema),
						})
						.openapi("OpsStages"),
					example: opsStagesExample,
				},
			},
		},
		...problemResponses(401, 403, 422, 429),
	},
});

function percentiles(values: number[]): z.infer<typeof PercentilesSchema> {
	if (values.length === 0) return null;
	const sorted = Float64Array.from(values).sort();
	const rank = (q: number) => sorted[Math.max(0, Math.ceil((q / 100) * sorted.length) - 1)] ?? 0;
	return { p50: rank(50), p95: rank(95), p99: rank(99) };
}

/** Each stage's figures from its deliveries' rows, stages in the order first seen. */
export function stageFigures(rows: readonly DeliveryRow[]): z.infer<typeof StageFiguresSchema>[] {
	const byStage = new Map<
		string,
		{ runs: number; failures: number; retries: number; deadLetters: number; durations: number[]; waits: number[] }
	>();
	for (const row of rows) {
		let figures = byStage.get(row.stage);
		if (!figures) {
			figures = { runs: 0, failures: 0, retries: 0, deadLetters: 0, durations: [], waits: [] };
			byStage.set(row.stage, figures);
		}
		if (row.spanPhase === "start") {
			figures.runs += 1;
			if (row.queueWaitMs !== null) figures.waits.push(row.queueWaitMs);
			continue;
		}
		if (row.code === "dead_lettered") {
			figures.deadLetters += 1;
			continue;
		}
		if (row.durationMs !== null) figures.durations.push(row.durationMs);
		if (row.code === "retrying") figures.retries += 1;
		else if (row.level === "error") figures.failures += 1;
	}
	return [...byStage].map(([stage, figures]) => ({
		stage,
		runs: figures.runs,
		failures: figures.failures,
		retries: figures.retries,
		dead_letters: figures.deadLetters,
		duration_ms: percentiles(figures.durations),
		queue_wait_ms: percentiles(figures.waits),
	}));
}

export function registerListOpsStages(app: App): void {
	app.openapi(listOpsStagesRoute, async function listOpsStages(c) {
		const { window } = c.req.valid("query");
		const since = new Date(Date.now() - windowMinutes(window) * 60_000).toISOString();
		const rows = await listDeliveryRows(c.env.DB, since, MAX_DELIVERY_ROWS + 1);
		const counted = rows.slice(0, MAX_DELIVERY_ROWS);
		return c.json({ window, since, truncated: rows.length > MAX_DELIVERY_ROWS, stages: stageFigures(counted) }, 200);
	});
}
