/**
 * What a tenant can find and remove: GET /v1/jobs (newest first, by status, paged by cursor)
 * and DELETE /v1/uploads/{id}, with their error paths and tenant isolation.
 */
import "../../src/processes/registry";
import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cancelJob, failJob, getJob } from "../../src/db/jobs";
import { dispatchBatch } from "../../src/pipeline/dispatch";
import { pipelineStages } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, apiWith, expectProblem, heldQueue, json } from "../helpers";
import { recordNdviJob } from "../pipeline-driver";
import { createTenantKey } from "../tenants";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface JobList {
	jobs: { id: string; status: string; created_at: string }[];
	next: string | null;
}

/** A job of the tenant that stays queued: no queue message is sent for it. */
async function queuedJob(tenantId: string): Promise<string> {
	const job = await recordNdviJob({}, { traceId: TRACE_ID, tenantId });
	return job.id;
}

async function listAs(key: string, query = ""): Promise<JobList> {
	const response = await api(`/v1/jobs${query}`, { headers: bearer(key) });
	expect(response.status, await response.clone().text()).toBe(200);
	return json<JobList>(response);
}

/** Five jobs: two queued, two canceled, one failed; newest first as the listing must order them. */
async function tenantWithJobs() {
	const tenant = await createTenantKey();
	const ids: string[] = [];
	for (let i = 0; i < 5; i++) ids.push(await queuedJob(tenant.tenantId));
	await cancelJob(env.DB, tenant.tenantId, ids[1] ?? "");
	await cancelJob(env.DB, tenant.tenantId, ids[3] ?? "");
	await failJob(env.DB, ids[4] ?? "", {
		type: "https://eo-edge.dev/problems/internal-error",
		title: "Internal error",
		status: 500,
		detail: "injected",
		instance: `/v1/jobs/${ids[4]}`,
		trace_id: TRACE_ID,
	});
	const jobs = await Promise.all(ids.map(async (id) => getJob(env.DB, id)));
	// Jobs made in the same millisecond are ordered by id, as the cursor is.
	const newestFirst = jobs
		.flatMap((job) => (job ? [{ id: job.id, createdAt: job.createdAt, status: job.status }] : []))
		.sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));
	return { ...tenant, newestFirst };
}

describe("GET /v1/jobs", () => {
	it("lists the tenant's jobs newest first, a page at a time, without repeats or gaps as jobs arrive", async () => {
		const { key, tenantId, newestFirst } = await tenantWithJobs();
		const all = await listAs(key);
		expect(all.jobs.map((job) => job.id)).toEqual(newestFirst.map((job) => job.id));
		expect(all.next).toBeNull();

		const seen: string[] = [];
		let cursor: string | null = null;
		let pages = 0;
		do {
			const page: JobList = await listAs(key, `?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
			expect(page.jobs.length).toBeLessThanOrEqual(2);
			seen.push(...page.jobs.map((job) => job.id));
			cursor = page.next;
			pages++;
			// A job submitted between pages is on the first page of a new listing, not in this one.
			if (pages === 1) await queuedJob(tenantId);
		} while (cursor);
		expect(pages).toBe(3);
		expect(seen).toEqual(newestFirst.map((job) => job.id));
		expect((await listAs(key)).jobs).toHaveLength(6);
	});

	it("filters by one status or several, comma-separated or repeated", async () => {
		const { key, newestFirst } = await tenantWithJobs();
		const having = (...statuses: string[]) =>
			newestFirst.filter((job) => statuses.includes(job.status)).map((job) => job.id);
		expect((await listAs(key, "?status=canceled")).jobs.map((job) => job.id)).toEqual(having("canceled"));
		expect((await listAs(key, "?status=queued,failed")).jobs.map((job) => job.id)).toEqual(having("queued", "failed"));
		expect((await listAs(key, "?status=queued&status=failed")).jobs.map((job) => job.id)).toEqual(
			having("queued", "failed"),
		);
		const page = await listAs(key, "?status=queued,canceled&limit=3");
		expect(page.jobs.map((job) => job.id)).toEqual(having("queued", "canceled").slice(0, 3));
		const rest = await listAs(key, `?status=queued,canceled&limit=3&cursor=${page.next}`);
		expect(rest.jobs.map((job) => job.id)).toEqual(having("queued", "canceled").slice(3));
		expect(rest.next).toBeNull();
	});

	it("shows no other tenant's jobs, needs jobs:read, and refuses a bad status, limit or cursor", async () => {
		await tenantWithJobs();
		const other = await createTenantKey();
		expect(await listAs(other.key)).toEqual({ jobs: [], next: null });

		const writer = await createTenantKey({ scopes: ["uploads:write"] });
		await expectProblem(await api("/v1/jobs", { headers: bearer(writer.key) }), 403, "forbidden");

		const status = await expectProblem(await api("/v1/jobs?status=queued,done"), 422, "validation-failed");
		expect(status.errors?.[0]?.path).toMatch(/^query\.status/);
		for (const limit of ["0", "101", "ten"]) {
			const problem = await expectProblem(await api(`/v1/jobs?limit=${limit}`), 422, "validation-failed");
			expect(problem.errors?.[0]?.path).toBe("query.limit");
		}
		for (const cursor of ["not-a-cursor", btoa("2026-11-25T12:00:01.000Z|upl_0123456789abcdef01234567")]) {
			const problem = await expectProblem(await api(`/v1/jobs?cursor=${cursor}`), 422, "validation-failed");
			expect(problem.errors?.[0]?.path).toBe("query.cursor");
		}
	});
});

async function uploadAs(key: string, bytes: ArrayBuffer): Promise<string> {
	const response = await api("/v1/uploads", {
		method: "POST",
		headers: { "content-type": "image/tiff", "content-length": String(bytes.byteLength), ...bearer(key) },
		body: bytes,
	});
	expect(response.status, await response.clone().text()).toBe(201);
	return (await json<{ id: string }>(response)).id;
}

describe("DELETE /v1/uploads/{id}", () => {
	it("deletes the file at once: the upload answers 404 and new jobs cannot use it", async () => {
		const { key } = await createTenantKey();
		const id = await uploadAs(key, red256);
		const nir = await uploadAs(key, nir256);
		expect((await api(`/v1/uploads/${id}`, { method: "DELETE", headers: bearer(key) })).status).toBe(204);
		expect(await env.BUCKET.head(objectKeys.upload(id))).toBeNull();
		await expectProblem(await api(`/v1/uploads/${id}`, { headers: bearer(key) }), 404, "not-found");
		await expectProblem(await api(`/v1/uploads/${id}`, { method: "DELETE", headers: bearer(key) }), 404, "not-found");
		const job = await api("/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json", ...bearer(key) },
			body: JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: id }, nir: { upload_id: nir } } }),
		});
		await expectProblem(job, 422, "unknown-upload");
	});

	it("fails a job still queued that names it at ingest, with input-unavailable", async () => {
		const { key } = await createTenantKey();
		const red = await uploadAs(key, red256);
		const nir = await uploadAs(key, nir256);
		const submitted = await apiWith({ INGEST_QUEUE: heldQueue }, "/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json", ...bearer(key) },
			body: JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: red }, nir: { upload_id: nir } } }),
		});
		expect(submitted.status).toBe(202);
		const { id: jobId } = await json<{ id: string }>(submitted);
		expect((await api(`/v1/uploads/${red}`, { method: "DELETE", headers: bearer(key) })).status).toBe(204);

		const batch = createMessageBatch(pipelineStages.ingest.queue, [
			{ id: "m1", timestamp: new Date(), attempts: 1, body: { job_id: jobId, trace_id: TRACE_ID } },
		]);
		await dispatchBatch(batch, env);
		const job = await getJob(env.DB, jobId);
		expect(job?.status).toBe("failed");
		expect(job?.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
	});

	it("answers 404 for another tenant's upload and an unknown id, and needs uploads:write", async () => {
		const owner = await createTenantKey();
		const id = await uploadAs(owner.key, red256);
		const other = await createTenantKey();
		await expectProblem(
			await api(`/v1/uploads/${id}`, { method: "DELETE", headers: bearer(other.key) }),
			404,
			"not-found",
		);
		const reader = await createTenantKey({ scopes: ["jobs:read"] });
		await expectProblem(
			await api(`/v1/uploads/${id}`, { method: "DELETE", headers: bearer(reader.key) }),
			403,
			"forbidden",
		);
		expect((await api(`/v1/uploads/${id}`, { headers: bearer(owner.key) })).status).toBe(200);
		expect(await env.BUCKET.head(objectKeys.upload(id))).not.toBeNull();
		await expectProblem(
			await api("/v1/uploads/upl_000000000000000000000000", { method: "DELETE", headers: bearer(owner.key) }),
			404,
			"not-found",
		);
	});

	it("aborts an upload in parts still open, as its abort URL does", async () => {
		const { key } = await createTenantKey();
		const opened = await api("/v1/uploads", { method: "POST", headers: { ...bearer(key), "upload-length": "1000" } });
		expect(opened.status).toBe(202);
		const session = await json<{ id: string; complete_href: string; abort_href: string }>(opened);
		expect((await api(`/v1/uploads/${session.id}`, { method: "DELETE", headers: bearer(key) })).status).toBe(204);
		const closed = await expectProblem(
			await api(session.complete_href, { method: "POST", headers: bearer(key) }),
			409,
			"upload-closed",
		);
		expect(closed.detail).toContain("aborted");
		expect((await api(session.abort_href, { method: "POST", headers: bearer(key) })).status).toBe(204);
		await expectProblem(
			await api(`/v1/uploads/${session.id}`, { method: "DELETE", headers: bearer(key) }),
			404,
			"not-found",
		);
	});
});
