/** Every 4xx of the v1 contract, and thrown errors, come back as RFC 9457 problem+json. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

import { API_VERSION, createApp } from "../../src/app";
import { objectKeys } from "../../src/storage/keys";
import landsatFloat32 from "../fixtures/landsat_rn_float32.tif";
import notATiff from "../fixtures/not_a_tiff.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, expectProblem, json, submitJob, upload } from "../helpers";
import { TEST_API_KEY } from "../tenants";

async function storedUploads(): Promise<string[]> {
	return (await env.BUCKET.list({ prefix: "uploads/" })).objects.map((object) => object.key);
}

describe("POST /v1/uploads", () => {
	it("stores a GeoTIFF and reports its header", async () => {
		const stored = await upload(red256);
		expect(stored.id).toMatch(/^upl_[0-9a-f]{24}$/);
		expect(stored.bytes).toBe(red256.byteLength);
		expect(stored.raster).toMatchObject({ width: 256, height: 256, bands: 1, data_type: "UInt16", nodata: 0 });
		const object = await env.BUCKET.get(objectKeys.upload(stored.id));
		expect(new Uint8Array((await object?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(new Uint8Array(red256));
		const fetched = await json(await api(`/v1/uploads/${stored.id}`));
		expect(fetched).toEqual(stored);
	});

	it("answers 415 for a file that is not a TIFF, and stores nothing", async () => {
		const before = await storedUploads();
		const response = await api("/v1/uploads", {
			method: "POST",
			headers: { "content-type": "image/tiff", "content-length": String(notATiff.byteLength) },
			body: notATiff,
		});
		const problem = await expectProblem(response, 415, "unsupported-media-type");
		expect(problem.detail).toContain("TIFF signature");
		expect(await storedUploads()).toEqual(before);
	});

	it("answers 422 for a TIFF signature with an unreadable header, and deletes the object", async () => {
		const before = await storedUploads();
		const bytes = new Uint8Array([0x49, 0x49, 0x2a, 0x00, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
		const response = await api("/v1/uploads", {
			method: "POST",
			headers: { "content-length": String(bytes.byteLength) },
			body: bytes,
		});
		await expectProblem(response, 422, "invalid-raster");
		expect(await storedUploads()).toEqual(before);
	});

	it("answers 411 when the body has no Content-Length", async () => {
		const body = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(new Uint8Array(red256));
				controller.close();
			},
		});
		const response = await api("/v1/uploads", { method: "POST", body });
		await expectProblem(response, 411, "length-required");
	});

	it("answers 413 above the configured size limit before reading the body", async () => {
		let pulls = 0;
		const body = new ReadableStream<Uint8Array>({
			pull(controller) {
				pulls++;
				controller.enqueue(new Uint8Array(1024));
			},
		});
		const response = await api("/v1/uploads", {
			method: "POST",
			headers: { "content-length": String(env.MAX_UPLOAD_BYTES + 1) },
			body,
		});
		const problem = await expectProblem(response, 413, "payload-too-large");
		expect(problem.detail).toContain(String(env.MAX_UPLOAD_BYTES));
		// Only what the runtime buffers ahead was pulled, far from the declared size.
		expect(pulls * 1024).toBeLessThan(1024 * 1024);
	});

	it("answers 400 when the body is shorter than its Content-Length, and stores nothing", async () => {
		const before = await storedUploads();
		const body = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.enqueue(new Uint8Array(red256.slice(0, 1000)));
				controller.close();
			},
		});
		// Straight to the app: the runtime's own transport would refuse to send a short body.
		const response = await createApp().request(
			"/v1/uploads",
			{
				method: "POST",
				headers: { "content-length": String(red256.byteLength), authorization: `Bearer ${TEST_API_KEY}` },
				body,
			},
			env,
		);
		const problem = await expectProblem(response, 400, "malformed-request");
		expect(problem.detail).toContain("1000 bytes");
		expect(await storedUploads()).toEqual(before);
	});
});

describe("POST /v1/jobs", () => {
	it("answers 400 for a body that is not JSON", async () => {
		const response = await api("/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: "{ not json",
		});
		await expectProblem(response, 400, "malformed-request");
	});

	it("answers 415 when the body is not declared as JSON", async () => {
		const response = await api("/v1/jobs", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
		await expectProblem(response, 415, "unsupported-media-type");
	});

	it("answers 422 naming each field that breaks the schema", async () => {
		const problem = await expectProblem(
			await submitJob({ index: "ndvi", inputs: { red: { upload_id: "nope", band: 0 } }, extra: true }),
			422,
			"validation-failed",
		);
		const paths = problem.errors?.map((error) => error.path) ?? [];
		expect(paths.sort()).toEqual(["extra", "inputs.red.band", "inputs.red.upload_id"]);
		expect(problem.errors?.find((error) => error.path === "extra")?.message).toBe("unknown field");
	});

	it("answers 422 for an unknown index, naming the field", async () => {
		const red = await upload(red256);
		const problem = await expectProblem(
			await submitJob({ index: "ndxx", inputs: { red: { upload_id: red.id } } }),
			422,
			"unknown-index",
		);
		expect(problem.errors).toEqual([{ path: "index", message: "unknown index 'ndxx'" }]);
		expect(problem.detail).toContain("ndvi");
	});

	it("answers 422 for an unknown upload, naming the input", async () => {
		const red = await upload(red256);
		const problem = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: { red: { upload_id: red.id }, nir: { upload_id: "upl_000000000000000000000000" } },
			}),
			422,
			"unknown-upload",
		);
		expect(problem.errors?.map((error) => error.path)).toEqual(["inputs.nir.upload_id"]);
	});

	it("answers 422 for a missing band and for a band the index does not use", async () => {
		const red = await upload(red256);
		const missing = await expectProblem(
			await submitJob({ index: "NDVI", inputs: { red: { upload_id: red.id } } }),
			422,
			"invalid-inputs",
		);
		expect(missing.errors).toEqual([{ path: "inputs.nir", message: "required by ndvi" }]);

		const unknown = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: { red: { upload_id: red.id }, nir: { upload_id: red.id }, rde: { upload_id: red.id } },
			}),
			422,
			"invalid-inputs",
		);
		expect(unknown.errors?.map((error) => error.path)).toEqual(["inputs.rde"]);
		expect(unknown.errors?.[0]?.message).toContain("unknown band name");
	});

	it("answers 422 for a band number the file does not have", async () => {
		const red = await upload(red256);
		const nir = await upload(nir256);
		const problem = await expectProblem(
			await submitJob({ index: "ndvi", inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id, band: 2 } } }),
			422,
			"invalid-inputs",
		);
		expect(problem.errors).toEqual([{ path: "inputs.nir.band", message: `upload ${nir.id} has 1 band` }]);
	});

	it("accepts a multi-band file serving two inputs, with band numbers", async () => {
		const landsat = await upload(landsatFloat32);
		const response = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: landsat.id, band: 1 }, nir: { upload_id: landsat.id, band: 2 } },
		});
		expect(response.status).toBe(202);
		const job = await json<{ status: string; stage: string | null; artifacts: unknown[]; error: unknown }>(response);
		expect(job).toMatchObject({ status: "queued", stage: null, artifacts: [], error: null });
	});
});

describe("other routes", () => {
	it("answers 404 problems for unknown or malformed job and upload ids, artifacts and routes", async () => {
		await expectProblem(await api("/v1/jobs/job_000000000000000000000000"), 404, "not-found");
		await expectProblem(await api("/v1/jobs/job_000000000000000000000000/events"), 404, "not-found");
		await expectProblem(await api("/v1/jobs/job_000000000000000000000000/artifacts/result.tif"), 404, "not-found");
		await expectProblem(await api("/v1/uploads/upl_000000000000000000000000"), 404, "not-found");
		await expectProblem(await api("/v1/nothing-here"), 404, "not-found");
		await expectProblem(await api("/v1/jobs/123"), 404, "not-found");
		await expectProblem(await api("/v1/uploads/..%2Fetc"), 404, "not-found");
	});

	it("turns a thrown error into a 500 problem without leaking its message", async () => {
		const app = createApp();
		app.get("/v1/boom", () => {
			throw new Error("secret internals");
		});
		const response = await app.request("/v1/boom", {}, env);
		const problem = await expectProblem(response, 500, "internal-error");
		expect(problem.detail).not.toContain("secret");
		expect(problem.instance).toBe("/v1/boom");
	});

	it("continues an incoming W3C trace and returns traceparent on every response", async () => {
		const traceId = "0af7651916cd43dd8448eb211c80319c";
		const response = await api("/v1/nothing-here", { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
		const problem = await expectProblem(response, 404, "not-found");
		expect(problem.trace_id).toBe(traceId);
		expect(response.headers.get("traceparent")).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

		const fresh = await api("/v1/health", { headers: { traceparent: "garbage" } });
		expect(fresh.status).toBe(200);
		expect(fresh.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
		expect(fresh.headers.get("traceparent")).not.toContain(traceId);
	});

	it("lists the indices from the registry and serves the OpenAPI 3.1 document", async () => {
		const { indices } = await json<{ indices: { id: string; bands: string[] }[] }>(await api("/v1/indices"));
		expect(indices.map((index) => index.id)).toEqual(["ndvi", "ndwi"]);
		expect(indices.find((index) => index.id === "ndwi")?.bands).toEqual(["green", "nir"]);
		const document = await json<{ openapi: string; paths: Record<string, unknown> }>(await api("/v1/openapi.json"));
		expect(document.openapi).toBe("3.1.0");
		expect(Object.keys(document.paths)).toEqual(
			expect.arrayContaining(["/v1/uploads", "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/indices"]),
		);
		expect(await json(await api("/v1/health"))).toEqual({ status: "ok", version: API_VERSION });
	});
});

describe("browser clients", () => {
	it("get CORS headers on answers and preflights, with the headers they must read exposed", async () => {
		const preflight = await api("/v1/jobs", {
			method: "OPTIONS",
			headers: {
				origin: "https://partner.example",
				"access-control-request-method": "POST",
				"access-control-request-headers": "content-type, traceparent",
			},
		});
		expect(preflight.status).toBe(204);
		expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
		expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("traceparent");

		const response = await api("/v1/indices", { headers: { origin: "https://partner.example" } });
		expect(response.headers.get("access-control-allow-origin")).toBe("*");
		expect(response.headers.get("access-control-expose-headers")).toContain("Location");
	});
});
