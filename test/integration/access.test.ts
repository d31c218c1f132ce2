/**
 * Access: API keys and scopes, tenant isolation, the per-key rate limit, tenant quotas and
 * Idempotency-Key, over HTTP through the worker.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { revokeApiKey } from "../../src/db/access";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import fieldsGeojson from "../fixtures/t2/fields.geojson?raw";
import nir10 from "../fixtures/t2/nir_10m.tif";
import red10 from "../fixtures/t2/red_10m.tif";
import { anonymous, api, expectProblem, json, waitForJob } from "../helpers";
import { recordNdviJob } from "../pipeline-driver";
import { createTenantKey } from "../tenants";

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function uploadAs(key: string, bytes: ArrayBuffer, headers: Record<string, string> = {}): Promise<Response> {
	return api("/v1/uploads", {
		method: "POST",
		headers: { "content-type": "image/tiff", "content-length": String(bytes.byteLength), ...bearer(key), ...headers },
		body: bytes,
	});
}

async function uploadIdAs(key: string, bytes: ArrayBuffer): Promise<string> {
	const response = await uploadAs(key, bytes);
	expect(response.status, await response.clone().text()).toBe(201);
	return (await json<{ id: string }>(response)).id;
}

function submitAs(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return api("/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json", ...bearer(key), ...headers },
		body: JSON.stringify(body),
	});
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

/** A job of the tenant that stays queued: no queue message is sent for it. */
async function queuedJob(tenantId: string): Promise<string> {
	const job = await recordNdviJob({}, { traceId: "0af7651916cd43dd8448eb211c80319c", tenantId });
	return job.id;
}

describe("API keys", () => {
	it("answers 401 with WWW-Authenticate without a key, with an unknown key and with a revoked one", async () => {
		const missing = await anonymous("/v1/jobs/job_0123456789abcdef01234567");
		await expectProblem(missing, 401, "unauthorized");
		expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="eo-edge"');

		const malformed = await anonymous("/v1/uploads", {
			method: "POST",
			headers: { authorization: "Basic Zm9vOmJhcg==" },
		});
		await expectProblem(malformed, 401, "unauthorized");

		const unknown = await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer("eoe_not_a_key") });
		await expectProblem(unknown, 401, "unauthorized");
		expect(unknown.headers.get("www-authenticate")).toContain('error="invalid_token"');

		const { key, keyId } = await createTenantKey();
		expect((await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(key) })).status).toBe(404);
		expect(await revokeApiKey(env.DB, keyId, new Date().toISOString())).toBe(true);
		const revoked = await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(key) });
		const problem = await expectProblem(revoked, 401, "unauthorized");
		expect(problem.detail).toContain("revoked");
	});

	it("answers 403 naming the scope when the key lacks it", async () => {
		const { key } = await createTenantKey({ scopes: ["jobs:read"] });
		const response = await submitAs(key, { index: "ndvi", inputs: {} });
		const problem = await expectProblem(response, 403, "forbidden");
		expect(problem.detail).toContain("jobs:write");
		expect(response.headers.get("www-authenticate")).toContain('scope="jobs:write"');
		await expectProblem(await uploadAs(key, red256), 403, "forbidden");
		expect((await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(key) })).status).toBe(404);
	});

	it("leaves health, the index list, the contract and the docs open", async () => {
		for (const path of ["/v1/health", "/v1/indices", "/v1/openapi.json", "/v1/docs"]) {
			const response = await anonymous(path);
			expect(response.status, path).toBe(200);
			await response.body?.cancel();
		}
	});
});

describe("tenant isolation", () => {
	it("answers 404, never 403, for another tenant's uploads and jobs, and keeps its uploads out of jobs", async () => {
		const owner = await createTenantKey();
		const other = await createTenantKey();
		const request = await ndviRequestAs(owner.key);
		const created = await submitAs(owner.key, request);
		expect(created.status).toBe(202);
		const { id } = await json<{ id: string }>(created);

		for (const path of [`/v1/jobs/${id}`, `/v1/jobs/${id}/events`, `/v1/jobs/${id}/artifacts/stats.json`]) {
			await expectProblem(await api(path, { headers: bearer(other.key) }), 404, "not-found");
		}
		await expectProblem(
			await api(`/v1/uploads/${request.inputs.red.upload_id}`, { headers: bearer(other.key) }),
			404,
			"not-found",
		);
		await expectProblem(
			await api(`/v1/jobs/${id}/cancel`, { method: "POST", headers: bearer(other.key) }),
			404,
			"not-found",
		);
		const borrowed = await submitAs(other.key, request);
		const problem = await expectProblem(borrowed, 422, "unknown-upload");
		expect(problem.errors?.map((error) => error.path).sort()).toEqual(["inputs.nir.upload_id", "inputs.red.upload_id"]);

		const own = await api(`/v1/jobs/${id}`, { headers: bearer(owner.key) });
		expect(own.status).toBe(200);
		await own.body?.cancel();
	});
});

describe("rate limit", () => {
	it("counts requests per key with RateLimit headers and answers 429 with Retry-After past the limit", async () => {
		const { key } = await createTenantKey({ quotas: { maxRequestsPerMinute: 3 } });
		const remaining: string[] = [];
		for (let request = 0; request < 3; request++) {
			const response = await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(key) });
			expect(response.status).toBe(404);
			expect(response.headers.get("ratelimit-limit")).toBe("3");
			expect(response.headers.get("ratelimit-policy")).toBe("3;w=60");
			remaining.push(response.headers.get("ratelimit-remaining") ?? "");
			await response.body?.cancel();
		}
		expect(remaining).toEqual(["2", "1", "0"]);
		const limited = await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(key) });
		await expectProblem(limited, 429, "rate-limited");
		const retryAfter = Number(limited.headers.get("retry-after"));
		expect(retryAfter).toBeGreaterThanOrEqual(1);
		expect(retryAfter).toBeLessThanOrEqual(60);
		expect(limited.headers.get("ratelimit-remaining")).toBe("0");

		const another = await createTenantKey({ quotas: { maxRequestsPerMinute: 3 } });
		const unaffected = await api("/v1/jobs/job_0123456789abcdef01234567", { headers: bearer(another.key) });
		expect(unaffected.status).toBe(404);
		await unaffected.body?.cancel();
	});
});

describe("quotas", () => {
	it("refuses a job past the concurrent-job quota with 429 and Retry-After", async () => {
		const { key, tenantId } = await createTenantKey({ quotas: { maxConcurrentJobs: 1 } });
		const request = await ndviRequestAs(key);
		await queuedJob(tenantId);
		const refused = await submitAs(key, request);
		const problem = await expectProblem(refused, 429, "quota-exceeded");
		expect(problem.detail).toContain("at most 1");
		expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
	});

	it("refuses a job with more pixels than the tenant may compute, without Retry-After", async () => {
		const { key } = await createTenantKey({ quotas: { maxPixelsPerJob: 256 * 255 } });
		const refused = await submitAs(key, await ndviRequestAs(key));
		const problem = await expectProblem(refused, 429, "quota-exceeded");
		expect(problem.detail).toContain(String(256 * 256));
		expect(refused.headers.get("retry-after")).toBeNull();
	});

	it("counts the output's pixels after an AOI's crop, not the inputs'", async () => {
		// 240 x 240 inputs; the AOI's window is about 101 x 91 pixels.
		const { key } = await createTenantKey({ quotas: { maxPixelsPerJob: 100 * 100 } });
		const inputs = {
			red: { upload_id: await uploadIdAs(key, red10) },
			nir: { upload_id: await uploadIdAs(key, nir10) },
		};
		await expectProblem(await submitAs(key, { index: "ndvi", inputs }), 429, "quota-exceeded");
		const cropped = await submitAs(key, {
			index: "ndvi",
			inputs,
			aoi: { bbox: [16.343176, 47.8297191, 16.354997, 47.8385446] },
		});
		expect(cropped.status).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(cropped)).id, { key });
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		// The same AOI widened past the quota is refused once validate knows the output's size.
		const wide = await submitAs(key, { index: "ndvi", inputs, aoi: { bbox: [16.33, 47.82, 16.37, 47.85] } });
		const refused = await waitForJob((await json<{ id: string }>(wide)).id, { key });
		expect(refused.error?.type).toBe("https://eo-edge.dev/problems/quota-exceeded");
	});

	it("counts a zonal job's pixels as those its fields cover, times its dates", async () => {
		// The fields cover about 4700 of the 240 x 240 pixels: one date fits 10 000, three do not.
		const { key } = await createTenantKey({ quotas: { maxPixelsPerJob: 10_000 } });
		const inputs = {
			red: { upload_id: await uploadIdAs(key, red10) },
			nir: { upload_id: await uploadIdAs(key, nir10) },
		};
		const zones = JSON.parse(fieldsGeojson);
		const oneDate = await submitAs(key, { process: "zonal_statistics", index: "ndvi", inputs, zones });
		expect(oneDate.status).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(oneDate)).id, { key });
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const dates = ["2026-05-04T10:20:31Z", "2026-05-19T10:20:29Z", "2026-06-08T10:20:33Z"].map((datetime) => ({
			datetime,
			inputs,
		}));
		const series = await submitAs(key, { process: "zonal_statistics", index: "ndvi", dates, zones });
		const refused = await waitForJob((await json<{ id: string }>(series)).id, { key });
		expect(refused.error?.type).toBe("https://eo-edge.dev/problems/quota-exceeded");
	});

	it("refuses an upload past the daily byte quota with Retry-After until the next UTC day", async () => {
		const { key } = await createTenantKey({ quotas: { maxUploadBytesPerDay: red256.byteLength + 10 } });
		await uploadIdAs(key, red256);
		const refused = await uploadAs(key, red256);
		await expectProblem(refused, 429, "quota-exceeded");
		const now = new Date();
		const untilMidnight =
			(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
		expect(Math.abs(Number(refused.headers.get("retry-after")) - untilMidnight)).toBeLessThan(5);
	});
});

describe("Idempotency-Key", () => {
	it("returns the first job for the same key and body, and 409 for another body", async () => {
		const { key } = await createTenantKey();
		const request = await ndviRequestAs(key);
		const first = await submitAs(key, request, { "idempotency-key": "order-42" });
		expect(first.status).toBe(202);
		const firstJob = await json<{ id: string }>(first);
		// The same request with its keys in another order is the same request.
		const reordered = { inputs: { nir: request.inputs.nir, red: request.inputs.red }, index: "ndvi" };
		const again = await submitAs(key, reordered, { "idempotency-key": "order-42" });
		expect(again.status).toBe(202);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect(again.headers.get("location")).toBe(`/v1/jobs/${firstJob.id}`);
		expect((await json<{ id: string }>(again)).id).toBe(firstJob.id);

		const different = await submitAs(key, { ...request, index: "ndwi" }, { "idempotency-key": "order-42" });
		await expectProblem(different, 409, "idempotency-key-reused");
		const fresh = await submitAs(key, request, { "idempotency-key": "order-43" });
		expect((await json<{ id: string }>(fresh)).id).not.toBe(firstJob.id);
	});

	it("gives the key back when the first request fails, and keeps keys apart per tenant", async () => {
		const { key } = await createTenantKey();
		const request = await ndviRequestAs(key);
		await expectProblem(
			await submitAs(key, { ...request, index: "nope" }, { "idempotency-key": "retry-me" }),
			422,
			"unknown-index",
		);
		const retried = await submitAs(key, request, { "idempotency-key": "retry-me" });
		expect(retried.status).toBe(202);
		expect(retried.headers.get("idempotent-replayed")).toBeNull();
		await retried.body?.cancel();

		const other = await createTenantKey();
		const theirs = await submitAs(other.key, await ndviRequestAs(other.key), { "idempotency-key": "retry-me" });
		expect(theirs.status).toBe(202);
		expect(theirs.headers.get("idempotent-replayed")).toBeNull();
		await theirs.body?.cancel();
	});

	it("returns the first upload for the same key and bytes, and 409 for other bytes", async () => {
		const { key } = await createTenantKey();
		const first = await uploadAs(key, red256, { "idempotency-key": "band-red" });
		expect(first.status).toBe(201);
		const { id } = await json<{ id: string }>(first);
		const again = await uploadAs(key, red256, { "idempotency-key": "band-red" });
		expect(again.status).toBe(201);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect((await json<{ id: string }>(again)).id).toBe(id);
		await expectProblem(await uploadAs(key, nir256, { "idempotency-key": "band-red" }), 409, "idempotency-key-reused");
	});

	it("refuses a malformed key with 422 naming the header", async () => {
		const { key } = await createTenantKey();
		const problem = await expectProblem(
			await submitAs(key, { index: "ndvi", inputs: {} }, { "idempotency-key": "has spaces" }),
			422,
			"validation-failed",
		);
		expect(problem.errors?.[0]?.path).toBe("header.Idempotency-Key");
	});
});
