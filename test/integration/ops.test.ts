/**
 * The operator's views: failures across tenants (GET /v1/ops/failures) and per-stage figures
 * (GET /v1/ops/stages), behind the ops:read scope that no tenant key carries by default.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import { tenantScopes } from "../../src/access/api-keys";
import { insertJobLog } from "../../src/db/job-logs";
import { stageFigures } from "../../src/routes/v1/ops.stages";
import { api, expectProblem, json, submitJob, waitForJob } from "../helpers";
import { createTenantKey } from "../tenants";

const COGS = "https://cogs.test";

interface Failure {
	time: string;
	tenant_id: string | null;
	job_id: string;
	stage: string;
	attempt?: number;
	code: string | null;
	message: string;
	problem?: Record<string, unknown>;
	trace_id: string;
	span_id: string;
}

interface StageFigures {
	stage: string;
	runs: number;
	failures: number;
	retries: number;
	dead_letters: number;
	duration_ms: { p50: number; p95: number; p99: number } | null;
	queue_wait_ms: { p50: number; p95: number; p99: number } | null;
}

const operator = await createTenantKey({ scopes: ["ops:read"], tenant: "operator" });
const asOperator = (path: string) => api(path, { headers: { authorization: `Bearer ${operator.key}` } });

async function failingJob(key?: string): Promise<Job> {
	const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
	const response = await submitJob(
		{
			index: "ndvi",
			inputs: { red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href: `${COGS}/status/404/s2_nir_256.tif` } },
		},
		headers,
	);
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id, key ? { key } : {});
}

describe("the operator's views", () => {
	it("are refused to a tenant's key, which carries every scope but ops:read", async () => {
		expect(tenantScopes).not.toContain("ops:read");
		await expectProblem(await api("/v1/ops/failures"), 403, "forbidden");
		await expectProblem(await api("/v1/ops/stages"), 403, "forbidden");
	});

	it("list every tenant's failed jobs in one place, newest first, with their problem and trace", async () => {
		const other = await createTenantKey();
		const first = await failingJob();
		const second = await failingJob(other.key);
		expect([first.status, second.status]).toEqual(["failed", "failed"]);
		const response = await asOperator("/v1/ops/failures?stage=ingest&code=input-unavailable&limit=100");
		expect(response.status).toBe(200);
		const { failures } = await json<{ failures: Failure[] }>(response);
		const times = failures.map((failure) => failure.time);
		expect([...times].sort().reverse()).toEqual(times);
		const ours = failures.filter((failure) => failure.job_id === first.id || failure.job_id === second.id);
		expect(ours.map((failure) => failure.job_id)).toEqual([second.id, first.id]);
		expect(ours[0]).toMatchObject({
			tenant_id: other.tenantId,
			stage: "ingest",
			attempt: 1,
			code: "input-unavailable",
		});
		expect(ours[0]?.problem).toEqual(second.error);
		expect(ours[0]?.trace_id).toBe(second.trace_id);
		expect(ours[1]?.tenant_id).toBe("ten_test");
		for (const failure of failures) expect(failure).toMatchObject({ stage: "ingest", code: "input-unavailable" });
	});

	it("page failures by cursor, filter by time, and refuse a bad filter", async () => {
		await failingJob();
		await failingJob();
		const firstPage = await json<{ failures: Failure[]; next: string | null }>(
			await asOperator("/v1/ops/failures?limit=1"),
		);
		expect(firstPage.failures).toHaveLength(1);
		expect(firstPage.next).not.toBeNull();
		const secondPage = await json<{ failures: Failure[] }>(
			await asOperator(`/v1/ops/failures?limit=1&cursor=${firstPage.next}`),
		);
		expect((secondPage.failures[0]?.time ?? "") <= (firstPage.failures[0]?.time ?? "")).toBe(true);
		expect(secondPage.failures[0]?.job_id).not.toBe(firstPage.failures[0]?.job_id);
		const future = new Date(Date.now() + 3600_000).toISOString();
		expect(await json(await asOperator(`/v1/ops/failures?since=${future}`))).toEqual({ failures: [], next: null });
		await expectProblem(await asOperator("/v1/ops/failures?since=yesterday"), 422, "validation-failed");
		await expectProblem(await asOperator("/v1/ops/failures?cursor=nope"), 422, "validation-failed");
	});

	it("list a dead-lettered message with the stage its job had reached", async () => {
		const job = await failingJob();
		await insertJobLog(env.DB, {
			jobId: job.id,
			level: "error",
			stage: "dead-letter",
			attempt: 1,
			code: "dead_lettered",
			message: "a message of the job was given up on after its retries and set aside",
			data: { last_stage: "compute", marked_failed: false },
			traceId: job.trace_id,
			spanId: "1234567890abcdef",
			spanPhase: "end",
			durationMs: 3,
		});
		const { failures } = await json<{ failures: Failure[] }>(await asOperator("/v1/ops/failures?code=dead_lettered"));
		expect(failures.find((failure) => failure.job_id === job.id)).toMatchObject({ stage: "dead-letter" });
		const { stages } = await json<{ stages: StageFigures[] }>(await asOperator("/v1/ops/stages?window=15m"));
		expect(stages.find((figures) => figures.stage === "compute")?.dead_letters).toBeGreaterThanOrEqual(1);
	});

	it("give per-stage runs, failures, retries and run-time and queue-wait percentiles", async () => {
		const flaky = await submitJob({
			index: "ndvi",
			inputs: {
				red: { href: `${COGS}/files/s2_red_256.tif` },
				nir: { href: `${COGS}/flaky/${crypto.randomUUID()}/s2_nir_256.tif` },
			},
		});
		expect((await waitForJob((await json<{ id: string }>(flaky)).id)).status).toBe("succeeded");
		await failingJob();
		const response = await asOperator("/v1/ops/stages?window=1h");
		expect(response.status).toBe(200);
		const figures = await json<{ window: string; truncated: boolean; stages: StageFigures[] }>(response);
		expect(figures.window).toBe("1h");
		expect(figures.truncated).toBe(false);
		const ingest = figures.stages.find((stage) => stage.stage === "ingest");
		expect(ingest?.runs).toBeGreaterThanOrEqual(3);
		expect(ingest?.retries).toBeGreaterThanOrEqual(1);
		expect(ingest?.failures).toBeGreaterThanOrEqual(1);
		expect(ingest?.duration_ms?.p50).toBeGreaterThanOrEqual(0);
		expect(ingest?.queue_wait_ms).not.toBeNull();
		const compute = figures.stages.find((stage) => stage.stage === "compute");
		expect(compute?.runs).toBeGreaterThan(0);
		const { p50 = 0, p95 = 0, p99 = 0 } = compute?.duration_ms ?? {};
		expect(p50 <= p95 && p95 <= p99).toBe(true);
		await expectProblem(await asOperator("/v1/ops/stages?window=25h"), 422, "validation-failed");
		await expectProblem(await asOperator("/v1/ops/stages?window=1d"), 422, "validation-failed");
	});
});

describe("stage figures", () => {
	it("count by nearest rank and attribute each row to its kind", () => {
		const start = (stage: string, queueWaitMs: number | null) =>
			({ stage, spanPhase: "start", level: "info", code: "started", durationMs: null, queueWaitMs }) as const;
		const end = (stage: string, code: string, level: "info" | "warning" | "error", durationMs: number) =>
			({ stage, spanPhase: "end", level, code, durationMs, queueWaitMs: null }) as const;
		const rows = [
			...Array.from({ length: 100 }, (_, i) => start("compute", i + 1)),
			...Array.from({ length: 97 }, (_, i) => end("compute", "succeeded", "info", i + 1)),
			end("compute", "retrying", "warning", 98),
			end("compute", "input-unavailable", "error", 99),
			end("compute", "dead_lettered", "error", 100),
		];
		expect(stageFigures(rows)).toEqual([
			{
				stage: "compute",
				runs: 100,
				failures: 1,
				retries: 1,
				dead_letters: 1,
				duration_ms: { p50: 50, p95: 95, p99: 99 },
				queue_wait_ms: { p50: 50, p95: 95, p99: 99 },
			},
		]);
	});
});
