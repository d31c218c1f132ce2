/**
 * What a tenant can read of a job's run: its log (GET /v1/jobs/{id}/logs), its usage on the job,
 * and its trace as OTLP/JSON (GET /v1/jobs/{id}/trace), checked against OTLP's JSON rules and
 * sent to a collector stand-in (test/node/otlp-collector.ts).
 */
import { describe, expect, it } from "vitest";
import type { Job, JobLog, OtlpSpan, OtlpTrace } from "../../openapi/client/src/index";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { anonymous, api, apiWith, expectProblem, heldQueue, json, submitJob, upload, waitForJob } from "../helpers";
import { createTenantKey } from "../tenants";

type LogRow = JobLog;
type Span = OtlpSpan;
type Trace = OtlpTrace;

const COGS = "https://cogs.test";

async function ndviJob(inputs: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Job> {
	const response = await submitJob({ index: "ndvi", inputs }, headers);
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

async function uploadedNdvi(headers: Record<string, string> = {}): Promise<Job> {
	const [red, nir] = await Promise.all([upload(red256), upload(nir256)]);
	return ndviJob({ red: { upload_id: red.id }, nir: { upload_id: nir.id } }, headers);
}

/** Every row of the job's log at `level` and above, page by page with `limit`. */
async function allLogs(jobId: string, level = "debug", limit = 100): Promise<{ rows: LogRow[]; pages: number }> {
	const rows: LogRow[] = [];
	let offset: string | null = null;
	let pages = 0;
	do {
		const query = new URLSearchParams({ level, limit: String(limit), ...(offset ? { offset } : {}) });
		const response = await api(`/v1/jobs/${jobId}/logs?${query}`);
		expect(response.status).toBe(200);
		const page = await json<{ logs: LogRow[]; next: string | null }>(response);
		rows.push(...page.logs);
		offset = page.next;
		pages += 1;
		expect(pages).toBeLessThan(200);
	} while (offset);
	return { rows, pages };
}

function spansOf(trace: Trace): Span[] {
	return trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
}

async function traceOf(jobId: string): Promise<Trace> {
	const response = await api(`/v1/jobs/${jobId}/trace`);
	expect(response.status).toBe(200);
	return json<Trace>(response);
}

/** The rules of OTLP's JSON encoding and of one trace: hex ids, nanosecond strings, one tree. */
function expectOneWellFormedTrace(spans: Span[], traceId: string, externalParent: string | null): Span {
	for (const span of spans) {
		expect(span.traceId).toBe(traceId);
		expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
		expect(span.startTimeUnixNano).toMatch(/^\d{19}$/);
		expect(span.endTimeUnixNano).toMatch(/^\d{19}$/);
		expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
		for (const event of span.events) expect(event.timeUnixNano).toMatch(/^\d{19}$/);
	}
	const ids = new Set(spans.map((span) => span.spanId));
	expect(ids.size).toBe(spans.length);
	const roots = spans.filter((span) => span.parentSpanId === undefined || !ids.has(span.parentSpanId));
	expect(roots).toHaveLength(1);
	const [root] = roots;
	if (!root) throw new Error("no root span");
	expect(root.parentSpanId ?? null).toBe(externalParent);
	// Every other span hangs from the root (directly: stage attempts and the request are its children).
	for (const span of spans) if (span !== root) expect(span.parentSpanId).toBe(root.spanId);
	return root;
}

describe("a job's log", () => {
	it("says, from the moment it is queued, what each stage and window did, in order", async () => {
		const job = await uploadedNdvi();
		expect(job.status).toBe("succeeded");
		const { rows } = await allLogs(job.id);
		expect(rows[0]).toMatchObject({ level: "info", stage: "ingest", code: "queued" });
		expect(rows[0]?.message).toContain("waiting for ingest");
		for (const row of rows) expect(row.trace_id).toBe(job.trace_id);
		const ids = rows.map((row) => Number(row.id));
		expect([...ids].sort((a, b) => a - b)).toEqual(ids);
		const finished = rows.filter((row) => row.code === "succeeded").map((row) => row.stage);
		for (const stage of ["ingest", "validate", "compute", "store", "publish"]) expect(finished).toContain(stage);
		const ingestDone = rows.find((row) => row.stage === "ingest" && row.code === "succeeded");
		expect(ingestDone?.message).toMatch(/^ingest finished in \d+ ms; waiting for validate$/);
		// Windows are named, and their starts are debug rows.
		const windowRows = rows.filter((row) => row.window !== undefined);
		expect(windowRows.length).toBeGreaterThan(0);
		for (const row of windowRows) expect(row.message).toMatch(new RegExp(`^${row.stage} window ${row.window} `));
		expect(windowRows.filter((row) => row.code === "started").every((row) => row.level === "debug")).toBe(true);
		// Each delivery's start and end share its span.
		const started = rows.filter((row) => row.code === "started");
		for (const start of started) {
			expect(rows.some((row) => row.span_id === start.span_id && row.code === "succeeded")).toBe(true);
		}
	});

	it("filters by least level and pages by an opaque offset without losing or repeating a row", async () => {
		const job = await uploadedNdvi();
		const { rows: everything } = await allLogs(job.id, "debug", 100);
		const { rows: paged, pages } = await allLogs(job.id, "debug", 3);
		expect(pages).toBeGreaterThan(2);
		expect(paged).toEqual(everything);
		const { rows: info } = await allLogs(job.id, "info");
		expect(info.length).toBeLessThan(everything.length);
		expect(info.every((row) => row.level !== "debug")).toBe(true);
		expect(info).toEqual(everything.filter((row) => row.level !== "debug"));
		const { rows: errors } = await allLogs(job.id, "error");
		expect(errors).toEqual([]);
	});

	it("puts the problem, in words for the tenant, on the row where the job failed", async () => {
		const job = await ndviJob({
			red: { href: `${COGS}/files/s2_red_256.tif` },
			nir: { href: `${COGS}/status/404/s2_nir_256.tif` },
		});
		expect(job.status).toBe("failed");
		const { rows } = await allLogs(job.id, "error");
		expect(rows).toHaveLength(1);
		const [failure] = rows;
		expect(failure?.stage).toBe("ingest");
		expect(failure?.code).toBe("input-unavailable");
		expect(failure?.message).toBe(`ingest failed: ${job.error?.detail}`);
		expect(failure?.data?.problem).toEqual(job.error);
		expect(JSON.stringify(rows)).not.toMatch(/\bat \S+:\d+:\d+|Error:|stack/);
	});

	it("says when a stage is retried, and why, without internal exception text", async () => {
		const job = await ndviJob({
			red: { href: `${COGS}/files/s2_red_256.tif` },
			nir: { href: `${COGS}/flaky/${crypto.randomUUID()}/s2_nir_256.tif` },
		});
		expect(job.status).toBe("succeeded");
		const { rows } = await allLogs(job.id, "warning");
		expect(rows).toHaveLength(1);
		expect(rows[0]).toMatchObject({ level: "warning", stage: "ingest", code: "retrying", attempt: 1 });
		expect(rows[0]?.message).toMatch(/^ingest failed \(attempt 1 of \d+\) and is retried in \d+ s: /);
		expect(rows[0]?.message).not.toMatch(/Error:|\bat \S+:\d+/);
	});

	it("has a row and a cursor to follow while the job is queued", async () => {
		const [red, nir] = await Promise.all([upload(red256), upload(nir256)]);
		const response = await apiWith({ INGEST_QUEUE: heldQueue }, "/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } } }),
		});
		expect(response.status).toBe(202);
		const { id } = await json<{ id: string }>(response);
		const page = await json<{ logs: LogRow[]; next: string | null }>(await api(`/v1/jobs/${id}/logs`));
		expect(page.logs.map((row) => row.code)).toEqual(["queued"]);
		expect(page.next).not.toBeNull();
		const after = await json<{ logs: LogRow[]; next: string | null }>(
			await api(`/v1/jobs/${id}/logs?offset=${page.next}`),
		);
		expect(after).toEqual({ logs: [], next: page.next });
		const canceled = await api(`/v1/jobs/${id}/cancel`, { method: "POST" });
		expect(canceled.status).toBe(200);
		const ended = await json<{ logs: LogRow[]; next: string | null }>(await api(`/v1/jobs/${id}/logs`));
		expect(ended.logs.map((row) => row.code)).toEqual(["queued", "canceled"]);
		expect(ended.next).toBeNull();
	});

	it("is another tenant's 404, and a made-up offset is a 422", async () => {
		const job = await uploadedNdvi();
		const { key: other } = await createTenantKey({ scopes: ["jobs:read"] });
		await expectProblem(
			await api(`/v1/jobs/${job.id}/logs`, { headers: { authorization: `Bearer ${other}` } }),
			404,
			"not-found",
		);
		await expectProblem(
			await api(`/v1/jobs/${job.id}/trace`, { headers: { authorization: `Bearer ${other}` } }),
			404,
			"not-found",
		);
		await expectProblem(await api(`/v1/jobs/${job.id}/logs?offset=bm90LWEtY3Vyc29y`), 422, "validation-failed");
		await expectProblem(await api(`/v1/jobs/${job.id}/logs?level=verbose`), 422, "validation-failed");
	});
});

describe("a job's usage", () => {
	it("counts its invocations, the bytes it read and wrote, and its pixels", async () => {
		const job = await uploadedNdvi();
		const { rows } = await allLogs(job.id);
		const deliveries = rows.filter((row) => row.code === "started").length;
		expect(job.usage.invocations).toBe(deliveries);
		expect(job.usage.pixels).toBe(256 * 256);
		expect(job.usage.bytes_read_uploads).toBeGreaterThan(0);
		// Each upload's pixels are read once; headers and block tables at most double that here.
		expect(job.usage.bytes_read_uploads).toBeLessThan(2 * (red256.byteLength + nir256.byteLength));
		expect(job.usage.bytes_read_remote).toBe(0);
		const artifacts = job.artifacts.reduce((sum, artifact) => sum + artifact.bytes, 0);
		expect(job.usage.bytes_written).toBeGreaterThanOrEqual(artifacts);
		// From the request's start, a little before the job's row was written, to the job's end.
		const recorded = Date.parse(job.updated_at) - Date.parse(job.created_at);
		expect(job.usage.wall_ms).toBeGreaterThanOrEqual(recorded);
		expect(job.usage.wall_ms).toBeLessThan(recorded + 5_000);
	});

	it("counts a remote input's bytes as remote", async () => {
		const job = await ndviJob({
			red: { href: `${COGS}/files/s2_red_256.tif` },
			nir: { href: `${COGS}/files/s2_nir_256.tif` },
		});
		expect(job.status).toBe("succeeded");
		expect(job.usage.bytes_read_remote).toBeGreaterThan(0);
		expect(job.usage.bytes_read_uploads).toBe(0);
	});
});

describe("a job's trace", () => {
	it("is one tree of OTLP spans: the job, its request, and each stage attempt and window", async () => {
		const job = await uploadedNdvi();
		const spans = spansOf(await traceOf(job.id));
		const root = expectOneWellFormedTrace(spans, job.trace_id, null);
		expect(root.name).toBe("job index");
		expect(root.status).toEqual({ code: 1 });
		const request = spans.find((span) => span.name === "POST /v1/jobs");
		expect(request?.kind).toBe(2);
		expect(request?.events.map((event) => event.name)).toEqual(["queued"]);
		const { rows } = await allLogs(job.id);
		const deliveries = rows.filter((row) => row.code === "started");
		const deliverySpans = spans.filter((span) => span.kind === 5);
		expect(deliverySpans.map((span) => span.spanId).sort()).toEqual(deliveries.map((row) => row.span_id).sort());
		for (const span of deliverySpans) {
			expect(span.name).toMatch(/^(ingest|validate|compute|histogram|store|publish)( window \d+| part \d+)?$/);
			expect(span.status.code).toBe(1);
			expect(BigInt(span.startTimeUnixNano) >= BigInt(root.startTimeUnixNano)).toBe(true);
			expect(BigInt(span.endTimeUnixNano) <= BigInt(root.endTimeUnixNano)).toBe(true);
		}
		expect(deliverySpans.some((span) => /^compute window \d+$/.test(span.name))).toBe(true);
	});

	it("continues the caller's trace and hangs the job under the caller's span", async () => {
		const traceId = "0af7651916cd43dd8448eb211c80319c";
		const callerSpan = "b7ad6b7169203331";
		const job = await uploadedNdvi({ traceparent: `00-${traceId}-${callerSpan}-01` });
		expect(job.trace_id).toBe(traceId);
		const spans = spansOf(await traceOf(job.id));
		const root = expectOneWellFormedTrace(spans, traceId, callerSpan);
		expect(root.parentSpanId).toBe(callerSpan);
	});

	it("shows a retry as an event and an error status on the attempt, and a failure on the job", async () => {
		const retried = await ndviJob({
			red: { href: `${COGS}/files/s2_red_256.tif` },
			nir: { href: `${COGS}/flaky/${crypto.randomUUID()}/s2_nir_256.tif` },
		});
		const retriedSpans = spansOf(await traceOf(retried.id)).filter((span) => span.name === "ingest");
		expect(retriedSpans).toHaveLength(2);
		const [first, second] = retriedSpans;
		expect(first?.status.code).toBe(2);
		expect(first?.events.map((event) => event.name)).toEqual(["retrying"]);
		expect(second?.status.code).toBe(1);

		const failed = await ndviJob({
			red: { href: `${COGS}/files/s2_red_256.tif` },
			nir: { href: `${COGS}/status/404/s2_nir_256.tif` },
		});
		const spans = spansOf(await traceOf(failed.id));
		const root = expectOneWellFormedTrace(spans, failed.trace_id, null);
		expect(root.status).toEqual({ code: 2, message: failed.error?.detail });
		const ingest = spans.find((span) => span.name === "ingest");
		expect(ingest?.status.code).toBe(2);
		expect(ingest?.events.map((event) => event.name)).toEqual(["input-unavailable"]);
	});

	it("is taken unchanged by an OTLP/HTTP collector, which refuses base64 ids", async () => {
		const job = await uploadedNdvi();
		const trace = await traceOf(job.id);
		const sent = await fetch("https://collector.test/v1/traces", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(trace),
		});
		expect(sent.status, await sent.clone().text()).toBe(200);
		expect(await sent.json()).toEqual({});
		const received = await json<{ spans: Span[] }>(await fetch(`https://collector.test/v1/traces/${job.trace_id}`));
		expect(received.spans).toHaveLength(spansOf(trace).length);

		// The stand-in is strict: the common bug, ids in base64, is refused.
		const [first] = spansOf(trace);
		const base64 = structuredClone(trace);
		const span = base64.resourceSpans[0]?.scopeSpans[0]?.spans[0];
		if (!span || !first) throw new Error("no span");
		span.spanId = btoa(first.spanId.slice(0, 12));
		const refused = await fetch("https://collector.test/v1/traces", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(base64),
		});
		expect(refused.status).toBe(400);
	});
});

describe("a job's page", () => {
	it("is served with no key, holds no job data, and loads only this worker's script and styles", async () => {
		const job = await uploadedNdvi();
		const response = await anonymous(`/v1/jobs/${job.id}/view`);
		expect(response.status).toBe(200);
		expect(response.headers.get("content-type")).toMatch(/^text\/html/);
		expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
		expect(response.headers.get("content-security-policy")).toContain("connect-src 'self'");
		expect(response.headers.get("referrer-policy")).toBe("no-referrer");
		const html = await response.text();
		expect(html).toContain('<script src="/v1/view/job-page.js" defer></script>');
		expect(html).toContain('<link rel="stylesheet" href="/v1/view/job-page.css">');
		expect(html).not.toContain(job.trace_id);
		expect(html).not.toMatch(/(src|href)="https?:/);
		await expectProblem(await anonymous("/v1/jobs/not-a-job/view"), 404, "not-found");
	});
});
