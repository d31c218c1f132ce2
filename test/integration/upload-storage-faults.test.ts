/**
 * Uploads when storage cannot be read back: the client gets a 503 storage-unavailable to retry,
 * never a 422 blaming its file, and a file already joined from parts is not thrown away.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { getUploadSession } from "../../src/db/upload-sessions";
import { objectKeys } from "../../src/storage/keys";
import red256 from "../fixtures/s2_red_256.tif";
import { api, BASE, expectProblem, json } from "../helpers";
import { TEST_API_KEY, TEST_TENANT_ID } from "../tenants";

const INTERNAL = "R2 internal error at 10.0.0.5:5432";

/** The bucket with every ranged read past a TIFF signature failing, as R2 does when unavailable. */
function unreadableBucket(bucket: R2Bucket): R2Bucket {
	return new Proxy(bucket, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function") return value;
			if (property !== "get") return value.bind(target);
			return (key: string, options?: R2GetOptions) => {
				const range = options?.range as { length?: number } | undefined;
				if ((range?.length ?? Number.POSITIVE_INFINITY) > 8) return Promise.reject(new Error(INTERNAL));
				return value.call(target, key, options);
			};
		},
	});
}

/** A request through the app with storage reads failing. */
function withUnreadableStorage(path: string, init: RequestInit): Promise<Response> {
	const headers = new Headers(init.headers);
	headers.set("authorization", `Bearer ${TEST_API_KEY}`);
	return Promise.resolve(
		createApp().request(`${BASE}${path}`, { ...init, headers }, { ...env, BUCKET: unreadableBucket(env.BUCKET) }),
	);
}

describe("uploads when storage cannot be read", () => {
	it("answer 503 with Retry-After, keep nothing of a single-request upload, and succeed on retry", async () => {
		const body = new Uint8Array(red256);
		const init = {
			method: "POST",
			headers: { "content-type": "image/tiff", "content-length": String(body.byteLength) },
			body,
		};
		const before = (await env.BUCKET.list({ prefix: "uploads/" })).objects.length;
		const failed = await withUnreadableStorage("/v1/uploads", init);
		expect(failed.headers.get("retry-after")).toBe("5");
		const problem = await expectProblem(failed, 503, "storage-unavailable");
		expect(JSON.stringify(problem)).not.toContain("10.0.0.5");
		expect((await env.BUCKET.list({ prefix: "uploads/" })).objects.length).toBe(before);

		const retried = await api("/v1/uploads", { ...init, body: new Uint8Array(red256) });
		expect(retried.status).toBe(201);
	});

	it("keep a file joined from parts and its open upload, so completing again succeeds", async () => {
		const file = new Uint8Array(red256);
		const opened = await api("/v1/uploads", { method: "POST", headers: { "upload-length": String(file.length) } });
		const session = await json<{ id: string; complete_href: string }>(opened);
		const part = await api(`/v1/uploads/${session.id}/parts/1`, {
			method: "PUT",
			headers: { "content-type": "application/octet-stream" },
			body: file,
		});
		expect(part.status).toBe(200);

		const failed = await withUnreadableStorage(session.complete_href, { method: "POST" });
		const problem = await expectProblem(failed, 503, "storage-unavailable");
		expect(JSON.stringify(problem)).not.toContain("10.0.0.5");
		expect(await env.BUCKET.head(objectKeys.upload(session.id))).not.toBeNull();
		expect((await getUploadSession(env.DB, TEST_TENANT_ID, session.id))?.status).toBe("open");

		const completed = await api(session.complete_href, { method: "POST" });
		expect(completed.status, await completed.clone().text()).toBe(201);
		expect(await json(completed)).toMatchObject({ id: session.id, bytes: file.length });
	});
});
