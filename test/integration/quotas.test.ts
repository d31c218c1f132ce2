/**
 * Quotas under concurrency and Idempotency-Key claims under failure: simultaneous requests
 * against one tenant's quota, and a D1 that fails at chosen statements to stand for a crash
 * between the steps of a submission.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IDEMPOTENCY_LEASE_MS } from "../../src/access/idempotency";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { apiWith, expectProblem, failingDatabase, heldQueue, json } from "../helpers";
import { createTenantKey } from "../tenants";

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Jobs are submitted with the ingest queue held, so none ends (and frees its slot) during a test. */
const held = { INGEST_QUEUE: heldQueue };

async function uploadIdAs(key: string, bytes: ArrayBuffer): Promise<string> {
	const response = await apiWith(held, "/v1/uploads", {
		method: "POST",
		headers: { "content-type": "image/tiff", "content-length": String(bytes.byteLength), ...bearer(key) },
		body: bytes,
	});
	expect(response.status, await response.clone().text()).toBe(201);
	return (await json<{ id: string }>(response)).id;
}

async function ndviRequestAs(key: string) {
	return {
		index: "ndvi",
		inputs: {
			red: { upload_id: await uploadIdAs(key, red256), band: 1 },
			nir: { upload_id: await uploadIdAs(key, nir256), band: 1 },
		},
	};
}

function submit(
	key: string,
	body: unknown,
	headers: Record<string, string> = {},
	bindings: Partial<Env> = held,
): Promise<Response> {
	return apiWith(bindings, "/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json", ...bearer(key), ...headers },
		body: JSON.stringify(body),
	});
}

async function jobIdsOf(key: string): Promise<string[]> {
	const response = await apiWith(held, "/v1/jobs?limit=100", { headers: bearer(key) });
	expect(response.status).toBe(200);
	return (await json<{ jobs: { id: string }[] }>(response)).jobs.map((job) => job.id);
}

async function statusCounts(responses: Response[]): Promise<Record<number, number>> {
	const counts: Record<number, number> = {};
	for (const response of responses) {
		counts[response.status] = (counts[response.status] ?? 0) + 1;
		if (response.status === 429) await expectProblem(response, 429, "quota-exceeded");
		else await response.body?.cancel();
	}
	return counts;
}

describe("quotas under simultaneous requests", () => {
	it("accepts exactly 20 of 50 simultaneous jobs against a quota of 20", async () => {
		const { key } = await createTenantKey({ quotas: { maxConcurrentJobs: 20 } });
		const request = await ndviRequestAs(key);
		const responses = await Promise.all(Array.from({ length: 50 }, () => submit(key, request)));
		expect(await statusCounts(responses)).toEqual({ 202: 20, 429: 30 });
		expect(await jobIdsOf(key)).toHaveLength(20);
	});

	it("opens exactly 20 of 50 simultaneous uploads in parts against a daily quota of 20 of them", async () => {
		const bytes = 1_000_000;
		const { key } = await createTenantKey({ quotas: { maxUploadBytesPerDay: 20 * bytes } });
		const open = () =>
			apiWith(held, "/v1/uploads", { method: "POST", headers: { ...bearer(key), "upload-length": String(bytes) } });
		const responses = await Promise.all(Array.from({ length: 50 }, open));
		expect(await statusCounts(responses)).toEqual({ 202: 20, 429: 30 });
	});

	it("stores exactly 5 of 12 simultaneous single-request uploads against a daily quota of 5 of them", async () => {
		const { key } = await createTenantKey({ quotas: { maxUploadBytesPerDay: 5 * red256.byteLength } });
		const send = () =>
			apiWith(held, "/v1/uploads", {
				method: "POST",
				headers: { "content-type": "image/tiff", "content-length": String(red256.byteLength), ...bearer(key) },
				body: red256,
			});
		const responses = await Promise.all(Array.from({ length: 12 }, send));
		expect(await statusCounts(responses)).toEqual({ 201: 5, 429: 7 });
	});

	it("counts open sessions' declared bytes, so open sessions cannot each reserve the whole day", async () => {
		const { key } = await createTenantKey({ quotas: { maxUploadBytesPerDay: 1_000_000 } });
		const open = (bytes: number) =>
			apiWith(held, "/v1/uploads", { method: "POST", headers: { ...bearer(key), "upload-length": String(bytes) } });
		const first = await open(950_000);
		expect(first.status).toBe(202);
		const { abort_href } = await json<{ abort_href: string }>(first);
		const refused = await expectProblem(await open(950_000), 429, "quota-exceeded");
		expect(refused.detail).toContain("950000 more reserved");
		// A single-request upload counts against the same bytes.
		const single = await apiWith(held, "/v1/uploads", {
			method: "POST",
			headers: { "content-type": "image/tiff", "content-length": String(red256.byteLength), ...bearer(key) },
			body: red256,
		});
		await expectProblem(single, 429, "quota-exceeded");
		// Aborting gives the bytes back.
		expect((await apiWith(held, abort_href, { method: "POST", headers: bearer(key) })).status).toBe(204);
		const again = await open(950_000);
		expect(again.status).toBe(202);
		await again.body?.cancel();
	});
});

describe("Idempotency-Key claims under failure", () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	it("frees a key whose request crashed after claiming it once the lease has run out", async () => {
		const { key } = await createTenantKey();
		const request = await ndviRequestAs(key);
		// The request dies after its claim: the job is never recorded and the claim is never given back.
		const afterClaim = (sql: string) =>
			sql.includes("INSERT INTO jobs") ||
			(sql.startsWith("DELETE FROM idempotency_keys") && sql.includes("claim_token"));
		const crashed = { ...held, DB: failingDatabase(env.DB, afterClaim) };
		expect((await submit(key, request, { "idempotency-key": "crash-1" }, crashed)).status).toBe(500);

		const early = await submit(key, request, { "idempotency-key": "crash-1" });
		const busy = await expectProblem(early, 409, "idempotency-key-reused");
		expect(busy.detail).toContain("still being processed");
		const retryAfter = Number(early.headers.get("retry-after"));
		expect(retryAfter).toBeGreaterThan(0);
		expect(retryAfter).toBeLessThanOrEqual(IDEMPOTENCY_LEASE_MS.createJob / 1000);

		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + IDEMPOTENCY_LEASE_MS.createJob + 1000 });
		const late = await submit(key, request, { "idempotency-key": "crash-1" });
		expect(late.status, await late.clone().text()).toBe(202);
		expect(late.headers.get("idempotent-replayed")).toBeNull();
		const { id } = await json<{ id: string }>(late);
		const replay = await submit(key, request, { "idempotency-key": "crash-1" });
		expect(replay.headers.get("idempotent-replayed")).toBe("true");
		expect((await json<{ id: string }>(replay)).id).toBe(id);
		expect(await jobIdsOf(key)).toEqual([id]);
	});

	it("answers a retry with the job already queued when storing the first response failed", async () => {
		const { key } = await createTenantKey();
		const request = await ndviRequestAs(key);
		const failsToRemember = {
			...held,
			DB: failingDatabase(env.DB, (sql) => sql.includes("UPDATE idempotency_keys SET request_hash")),
		};
		expect((await submit(key, request, { "idempotency-key": "after-enqueue" }, failsToRemember)).status).toBe(500);
		const [queued] = await jobIdsOf(key);
		expect(queued).toBeDefined();

		const retried = await submit(key, request, { "idempotency-key": "after-enqueue" });
		expect(retried.status, await retried.clone().text()).toBe(202);
		expect(retried.headers.get("idempotent-replayed")).toBe("true");
		expect(retried.headers.get("location")).toBe(`/v1/jobs/${queued}`);
		expect((await json<{ id: string; status: string }>(retried)).id).toBe(queued);
		expect(await jobIdsOf(key)).toEqual([queued]);
		// A different request under the key is still refused.
		await expectProblem(
			await submit(key, { ...request, index: "ndwi" }, { "idempotency-key": "after-enqueue" }),
			409,
			"idempotency-key-reused",
		);
	});

	it("answers a retried upload with the upload already stored when storing the first response failed", async () => {
		const { key } = await createTenantKey();
		const failsToRemember = {
			...held,
			DB: failingDatabase(env.DB, (sql) => sql.includes("UPDATE idempotency_keys SET request_hash = ?, status")),
		};
		const send = (bindings: Partial<Env>, bytes: ArrayBuffer) =>
			apiWith(bindings, "/v1/uploads", {
				method: "POST",
				headers: {
					"content-type": "image/tiff",
					"content-length": String(bytes.byteLength),
					"idempotency-key": "band-red",
					...bearer(key),
				},
				body: bytes,
			});
		expect((await send(failsToRemember, red256)).status).toBe(500);
		const retried = await send(held, red256);
		expect(retried.status, await retried.clone().text()).toBe(201);
		expect(retried.headers.get("idempotent-replayed")).toBe("true");
		const { id, bytes } = await json<{ id: string; bytes: number }>(retried);
		expect(retried.headers.get("location")).toBe(`/v1/uploads/${id}`);
		expect(bytes).toBe(red256.byteLength);
		await expectProblem(await send(held, nir256), 409, "idempotency-key-reused");
	});
});
