/**
 * Uploads in parts (R2 multipart) through the worker: a file over two 5 MiB parts (the test
 * part size) joined and read like a single-request upload, and every error path: a part out of
 * range or of the wrong size, completing with parts missing, completing twice, aborting.
 */
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getUploadSession, listUploadParts } from "../../src/db/upload-sessions";
import { expireUploadSessions } from "../../src/maintenance/tasks";
import { UPLOAD_SESSION_TTL_MS } from "../../src/routes/v1/upload-files";
import { objectKeys } from "../../src/storage/keys";
import worker from "../../src/worker";
import red256 from "../fixtures/s2_red_256.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { createTenantKey, TEST_TENANT_ID } from "../tenants";

interface Session {
	id: string;
	status: string;
	created_at: string;
	expires_at: string;
	bytes: number;
	part_bytes: number;
	parts: { number: number; bytes: number; href: string; received: boolean }[];
	complete_href: string;
	abort_href: string;
}

/**
 * s2_red_256.tif followed by zeros: still the same TIFF (readers ignore bytes nothing points
 * at); or, shorter than the file, a prefix of it.
 */
function paddedTiff(bytes: number): Uint8Array {
	const file = new Uint8Array(bytes);
	file.set(new Uint8Array(red256).subarray(0, bytes));
	return file;
}

async function open(bytes: number): Promise<Session> {
	const response = await api("/v1/uploads", { method: "POST", headers: { "upload-length": String(bytes) } });
	expect(response.status, await response.clone().text()).toBe(202);
	const session = await json<Session>(response);
	expect(response.headers.get("location")).toBe(`/v1/uploads/${session.id}`);
	return session;
}

function putPart(session: Session, number: number, body: Uint8Array): Promise<Response> {
	return api(`/v1/uploads/${session.id}/parts/${number}`, {
		method: "PUT",
		headers: { "content-type": "application/octet-stream" },
		body,
	});
}

async function sendAll(session: Session, file: Uint8Array, order = session.parts.map((part) => part.number)) {
	for (const number of order) {
		const start = (number - 1) * session.part_bytes;
		const response = await putPart(session, number, file.subarray(start, start + session.part_bytes));
		expect(response.status, await response.clone().text()).toBe(200);
		expect(await json(response)).toMatchObject({ number, received: true });
	}
}

describe("upload in parts", () => {
	it("joins the parts, in any order, into an upload that reads like a single-request one and feeds a job", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES * 2 + 12345);
		const session = await open(file.length);
		expect(session).toMatchObject({ status: "open", bytes: file.length, part_bytes: env.UPLOAD_PART_BYTES });
		expect(session.parts.map((part) => part.bytes)).toEqual([env.UPLOAD_PART_BYTES, env.UPLOAD_PART_BYTES, 12345]);
		expect(session.parts[2]?.href).toBe(`/v1/uploads/${session.id}/parts/3`);
		await sendAll(session, file, [3, 1, 2]);

		const completed = await api(session.complete_href, { method: "POST" });
		expect(completed.status, await completed.clone().text()).toBe(201);
		const stored = await json<{ id: string; bytes: number; raster: Record<string, unknown> }>(completed);
		const single = await upload(red256);
		expect(stored.id).toBe(session.id);
		expect(stored.bytes).toBe(file.length);
		expect(stored.raster).toEqual(single.raster);

		const object = await env.BUCKET.get(objectKeys.upload(session.id));
		expect(new Uint8Array(await (object as R2ObjectBody).arrayBuffer())).toEqual(file);
		expect((await json(await api(`/v1/uploads/${session.id}`))).bytes).toBe(file.length);

		// Completing again is answered with the same upload.
		const again = await api(session.complete_href, { method: "POST" });
		expect(again.status).toBe(200);
		expect(await json(again)).toEqual(stored);

		const job = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: session.id }, nir: { upload_id: single.id } },
		});
		expect(job.status).toBe(202);
		expect((await waitForJob((await json<{ id: string }>(job)).id)).status).toBe("succeeded");
	});

	it("refuses a part out of range or of the wrong size, naming what is wrong", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES + 100);
		const session = await open(file.length);
		const outOfRange = await expectProblem(
			await putPart(session, 3, file.subarray(0, 100)),
			422,
			"upload-part-mismatch",
		);
		expect(outOfRange.errors).toEqual([{ path: "param.n", message: "must be between 1 and 2" }]);
		await expectProblem(await putPart(session, 0, file.subarray(0, 100)), 422, "validation-failed");
		const short = await expectProblem(await putPart(session, 1, file.subarray(0, 100)), 422, "upload-part-mismatch");
		expect(short.errors).toEqual([{ path: "header.content-length", message: `must be ${env.UPLOAD_PART_BYTES}` }]);
		await expectProblem(await putPart(session, 2, file.subarray(0, 99)), 422, "upload-part-mismatch");
	});

	it("records one upload when two completions race, and keeps the session and the upload in step", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES + 777);
		const session = await open(file.length);
		await sendAll(session, file);
		const answers = await Promise.all([1, 2, 3].map(() => api(session.complete_href, { method: "POST" })));
		const statuses = answers.map((answer) => answer.status).sort();
		expect(statuses[0]).toBe(200);
		expect(statuses).toContain(201);
		expect(statuses.every((status) => status === 200 || status === 201)).toBe(true);
		const bodies = await Promise.all(answers.map((answer) => json<{ id: string; bytes: number }>(answer)));
		expect(new Set(bodies.map((body) => `${body.id}:${body.bytes}`)).size).toBe(1);
		const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM uploads WHERE id = ?")
			.bind(session.id)
			.first<{ n: number }>();
		expect(rows?.n).toBe(1);
		const state = await env.DB.prepare("SELECT status FROM upload_sessions WHERE id = ?")
			.bind(session.id)
			.first<{ status: string }>();
		expect(state?.status).toBe("completed");
	});

	it("will not complete with parts missing, and tells which", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES * 2 + 1);
		const session = await open(file.length);
		await sendAll(session, file, [2]);
		const problem = await expectProblem(await api(session.complete_href, { method: "POST" }), 409, "upload-incomplete");
		expect(problem.errors?.map((error) => error.path)).toEqual(["parts.1", "parts.3"]);
		await sendAll(session, file, [1, 3]);
		expect((await api(session.complete_href, { method: "POST" })).status).toBe(201);
	});

	it("aborts: parts are refused afterwards, aborting again is fine, a complete upload cannot be aborted", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES + 10);
		const session = await open(file.length);
		await sendAll(session, file, [1]);
		expect((await api(session.abort_href, { method: "POST" })).status).toBe(204);
		expect((await api(session.abort_href, { method: "POST" })).status).toBe(204);
		await expectProblem(await putPart(session, 2, file.subarray(env.UPLOAD_PART_BYTES)), 409, "upload-closed");
		await expectProblem(await api(session.complete_href, { method: "POST" }), 409, "upload-closed");
		await expectProblem(await api(`/v1/uploads/${session.id}`), 404, "not-found");

		const done = await open(1000);
		// A TIFF signature whose first IFD lies past the end: no readable header, rejected like a single upload.
		await sendAll(
			done,
			Uint8Array.from({ length: 1000 }, (_, i) => [0x49, 0x49, 0x2a, 0, 0xff, 0xff][i] ?? 0),
		);
		await expectProblem(await api(done.complete_href, { method: "POST" }), 422, "invalid-raster");
		await expectProblem(await api(done.complete_href, { method: "POST" }), 409, "upload-closed");

		const whole = paddedTiff(new Uint8Array(red256).length);
		const complete = await open(whole.length);
		await sendAll(complete, whole);
		expect((await api(complete.complete_href, { method: "POST" })).status).toBe(201);
		await expectProblem(await api(complete.abort_href, { method: "POST" }), 409, "upload-closed");
	});

	it("rejects a file that is not a TIFF once joined, and a bad Upload-Length", async () => {
		const session = await open(64);
		await sendAll(session, new TextEncoder().encode("x".repeat(64)));
		await expectProblem(await api(session.complete_href, { method: "POST" }), 415, "unsupported-media-type");
		const bad = await expectProblem(
			await api("/v1/uploads", { method: "POST", headers: { "upload-length": "lots" } }),
			422,
			"validation-failed",
		);
		expect(bad.errors?.map((error) => error.path)).toEqual(["header.upload-length"]);
		await expectProblem(
			await api("/v1/uploads/upl_000000000000000000000000/complete", { method: "POST" }),
			404,
			"not-found",
		);
	});

	it("is offered when a single upload is too large", async () => {
		const problem = await expectProblem(
			await api("/v1/uploads", {
				method: "POST",
				headers: { "content-type": "image/tiff", "content-length": String(env.MAX_UPLOAD_BYTES + 1) },
				body: new Uint8Array(8),
			}),
			413,
			"payload-too-large",
		);
		expect(problem.detail).toContain(`Upload-Length: ${env.MAX_UPLOAD_BYTES + 1}`);
	});

	it("belongs to the tenant that opened it: another tenant's key finds no such upload", async () => {
		const session = await open(1000);
		const other = { authorization: `Bearer ${(await createTenantKey()).key}` };
		const part = await api(`/v1/uploads/${session.id}/parts/1`, {
			method: "PUT",
			headers: { ...other, "content-type": "application/octet-stream" },
			body: paddedTiff(1000),
		});
		await expectProblem(part, 404, "not-found");
		await expectProblem(
			await api(`/v1/uploads/${session.id}/complete`, { method: "POST", headers: other }),
			404,
			"not-found",
		);
		await expectProblem(
			await api(`/v1/uploads/${session.id}/abort`, { method: "POST", headers: other }),
			404,
			"not-found",
		);
		expect((await api(`/v1/uploads/${session.id}/abort`, { method: "POST" })).status).toBe(204);
	});

	it("counts the declared size against the tenant's daily upload quota", async () => {
		const { key } = await createTenantKey({ quotas: { maxUploadBytesPerDay: 1_000_000 } });
		const response = await api("/v1/uploads", {
			method: "POST",
			headers: { authorization: `Bearer ${key}`, "upload-length": "2000000" },
		});
		await expectProblem(response, 429, "quota-exceeded");
		expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
	});
});

describe("expiry of uploads in parts", () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	/** Moves the clock past a session's expiry. */
	function pastExpiry(session: Session): number {
		const later = Date.parse(session.expires_at) + 60_000;
		vi.useFakeTimers({ toFake: ["Date"], now: later });
		return later;
	}

	it("expires 24 h after opening: parts and complete are refused, and the sweeper aborts it and drops its parts", async () => {
		const file = paddedTiff(env.UPLOAD_PART_BYTES + 10);
		const session = await open(file.length);
		expect(Date.parse(session.expires_at) - Date.parse(session.created_at)).toBe(UPLOAD_SESSION_TTL_MS);
		await sendAll(session, file, [1]);
		const later = pastExpiry(session);

		const part = await expectProblem(
			await putPart(session, 2, file.subarray(env.UPLOAD_PART_BYTES)),
			409,
			"upload-closed",
		);
		expect(part.detail).toContain(`expired at ${session.expires_at}`);
		const complete = await expectProblem(await api(session.complete_href, { method: "POST" }), 409, "upload-closed");
		expect(complete.detail).toContain("expired");

		const report = await expireUploadSessions(env, later);
		expect(report.sessions).toBeGreaterThanOrEqual(1);
		const swept = await getUploadSession(env.DB, TEST_TENANT_ID, session.id);
		expect(swept?.status).toBe("aborted");
		expect(swept?.expiredAt).not.toBeNull();
		expect(await listUploadParts(env.DB, session.id)).toEqual([]);
		// The R2 multipart upload is gone: it takes no more parts.
		const multipart = env.BUCKET.resumeMultipartUpload(objectKeys.upload(session.id), swept?.multipartId ?? "");
		await expect(multipart.uploadPart(2, new Uint8Array(10))).rejects.toThrow();
		// Still told apart from an abort by the client.
		const after = await expectProblem(await api(session.complete_href, { method: "POST" }), 409, "upload-closed");
		expect(after.detail).toContain("expired");
		expect((await api(session.abort_href, { method: "POST" })).status).toBe(204);
	});

	it("stops holding the daily quota once expired, and is swept by the five-minute cron", async () => {
		const { key, tenantId } = await createTenantKey({ quotas: { maxUploadBytesPerDay: 1_000_000 } });
		const openAs = (bytes: number) =>
			api("/v1/uploads", {
				method: "POST",
				headers: { authorization: `Bearer ${key}`, "upload-length": String(bytes) },
			});
		const first = await openAs(900_000);
		expect(first.status).toBe(202);
		const session = await json<Session>(first);
		await expectProblem(await openAs(900_000), 429, "quota-exceeded");

		const later = pastExpiry(session);
		const reopened = await openAs(900_000);
		expect(reopened.status, await reopened.clone().text()).toBe(202);
		await reopened.body?.cancel();

		await worker.scheduled(createScheduledController({ cron: "*/5 * * * *", scheduledTime: later }), env);
		expect((await getUploadSession(env.DB, tenantId, session.id))?.status).toBe("aborted");
	});
});
