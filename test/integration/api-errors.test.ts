/** Every 4xx of the v1 contract, and thrown errors, come back as RFC 9457 problem+json. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

import { API_VERSION, CORS_EXPOSED_HEADERS, CORS_REQUEST_HEADERS, createApp } from "../../src/app";
import { objectKeys } from "../../src/storage/keys";
import landsatFloat32 from "../fixtures/landsat_rn_float32.tif";
import notATiff from "../fixtures/not_a_tiff.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { anonymous, api, expectProblem, json, submitJob, upload } from "../helpers";
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

	it("cancels a body it answers without reading, so that a client whose body never ends gets the answer", async () => {
		// A body that never ends, as from a client whose Content-Length exceeds what it sends.
		let canceled = false;
		const endless = () =>
			new ReadableStream<Uint8Array>({
				pull: () => new Promise<void>(() => undefined),
				cancel() {
					canceled = true;
				},
			});
		const headers = { "content-length": String(env.MAX_UPLOAD_BYTES + 1) };
		await expectProblem(
			await createApp().request("/v1/uploads", { method: "POST", headers, body: endless() }, env),
			401,
			"unauthorized",
		);
		expect(canceled).toBe(true);
		canceled = false;
		const authorization = `Bearer ${TEST_API_KEY}`;
		await expectProblem(
			await createApp().request(
				"/v1/uploads",
				{ method: "POST", headers: { ...headers, authorization }, body: endless() },
				env,
			),
			413,
			"payload-too-large",
		);
		expect(canceled).toBe(true);
		// A body that failed before anyone read it (the client went away) keeps its answer.
		const broken = new ReadableStream<Uint8Array>({
			start(controller) {
				controller.error(new Error("the client went away"));
			},
		});
		await expectProblem(
			await createApp().request("/v1/uploads", { method: "POST", headers, body: broken }, env),
			401,
			"unauthorized",
		);
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
			await submitJob({ index: "ndvj", inputs: { red: { upload_id: red.id } } }),
			422,
			"unknown-index",
		);
		expect(problem.errors).toEqual([{ path: "index", message: "unknown index 'ndvj'; did you mean 'NDVI'?" }]);
		expect(problem.detail).toContain("GET /v1/indices");

		// BAI (Burned Area Index) and BaI (Bareness Index) differ only in case.
		const ambiguous = await expectProblem(
			await submitJob({ index: "bai", inputs: { red: { upload_id: red.id } } }),
			422,
			"unknown-index",
		);
		expect(ambiguous.errors?.[0]?.message).toContain("matches BaI and BAI");
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
		expect(missing.errors).toEqual([{ path: "inputs.nir", message: "required by NDVI" }]);

		const unknown = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: { red: { upload_id: red.id }, nir: { upload_id: red.id }, rde: { upload_id: red.id } },
			}),
			422,
			"invalid-inputs",
		);
		expect(unknown.errors?.map((error) => error.path)).toEqual(["inputs.rde"]);
		expect(unknown.errors?.[0]?.message).toContain("unknown band name 'rde'; did you mean 'red'?");
	});

	it("names the band behind a catalog symbol used as an input name", async () => {
		const red = await upload(red256);
		const input = { upload_id: red.id };
		const problem = await expectProblem(
			await submitJob({ index: "ndvi", inputs: { R: input, N: input, G: input } }),
			422,
			"invalid-inputs",
		);
		expect(problem.errors).toEqual(
			expect.arrayContaining([
				{ path: "inputs.R", message: "'R' is the catalog's symbol for red; name the input 'red'" },
				{ path: "inputs.N", message: "'N' is the catalog's symbol for nir; name the input 'nir'" },
				{
					path: "inputs.G",
					message: "'G' is the catalog's symbol for green; NDVI uses nir, red, as STAC common names",
				},
			]),
		);
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

	it("serves the OpenAPI 3.1 document and health", async () => {
		const document = await json<{ openapi: string; paths: Record<string, unknown> }>(await api("/v1/openapi.json"));
		expect(document.openapi).toBe("3.1.0");
		expect(Object.keys(document.paths)).toEqual(
			expect.arrayContaining([
				"/v1/uploads",
				"/v1/jobs",
				"/v1/jobs/{id}",
				"/v1/jobs/{id}/events",
				"/v1/indices",
				"/v1/indices/{id}",
			]),
		);
		expect(await json(await api("/v1/health"))).toEqual({ status: "ok", version: API_VERSION });
	});
});

describe("browser clients", () => {
	const origin = "https://partner.example";
	const lower = (names: readonly string[]) => names.map((name) => name.toLowerCase());
	const listed = (header: string | null) => (header ?? "").toLowerCase().split(/\s*,\s*/);

	it("may send every request header the operations read, in a preflight", async () => {
		const sent = ["authorization", "content-type", "idempotency-key", "upload-length", "range", "traceparent"];
		for (const [path, method] of [
			["/v1/uploads", "POST"],
			["/v1/jobs", "POST"],
			["/v1/jobs/job_0123456789abcdef01234567/artifacts/result.tif", "GET"],
		] as const) {
			const preflight = await api(path, {
				method: "OPTIONS",
				headers: {
					origin,
					"access-control-request-method": method,
					"access-control-request-headers": sent.join(", "),
				},
			});
			expect(preflight.status).toBe(204);
			expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
			expect(listed(preflight.headers.get("access-control-allow-methods"))).toContain(method.toLowerCase());
			expect(listed(preflight.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(sent));
		}
	});

	it("can read the headers of answers and of problems", async () => {
		const response = await api("/v1/indices", { headers: { origin } });
		expect(response.headers.get("access-control-allow-origin")).toBe("*");
		expect(listed(response.headers.get("access-control-expose-headers"))).toEqual(
			expect.arrayContaining(["location", "retry-after", "ratelimit-remaining", "idempotent-replayed", "etag"]),
		);
		// A refused key must reach the page as a readable 401, not as a CORS failure.
		const refused = await anonymous("/v1/jobs/job_0123456789abcdef01234567", { headers: { origin } });
		expect(refused.status).toBe(401);
		expect(refused.headers.get("access-control-allow-origin")).toBe("*");
		expect(listed(refused.headers.get("access-control-expose-headers"))).toContain("www-authenticate");
	});

	it("cover every header the contract declares", async () => {
		type Operation = {
			parameters?: { in: string; name: string }[];
			responses?: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
		};
		const document = await json<{ paths: Record<string, Record<string, Operation>> }>(await api("/v1/openapi.json"));
		const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
		const requestHeaders = operations.flatMap((operation) =>
			(operation.parameters ?? []).filter((parameter) => parameter.in === "header").map((parameter) => parameter.name),
		);
		// A page's answer (the job page's HTML) is read by the browser as a document, never by a script.
		const responseHeaders = operations.flatMap((operation) =>
			Object.values(operation.responses ?? {})
				.filter((response) => !Object.keys(response.content ?? {}).includes("text/html"))
				.flatMap((response) => Object.keys(response.headers ?? {})),
		);
		expect(requestHeaders.length).toBeGreaterThan(0);
		expect(lower(CORS_REQUEST_HEADERS)).toEqual(expect.arrayContaining(lower(requestHeaders)));
		// Browsers always let a page read the CORS-safelisted response headers (Fetch standard).
		const safelisted = new Set([
			"cache-control",
			"content-language",
			"content-length",
			"content-type",
			"expires",
			"last-modified",
			"pragma",
		]);
		const exposable = lower(responseHeaders).filter((name) => !safelisted.has(name));
		expect(lower(CORS_EXPOSED_HEADERS)).toEqual(expect.arrayContaining(exposable));
	});
});

describe("POST /v1/jobs formulas", () => {
	const upload_id = "upl_000000000000000000000000";
	const input = { upload_id };

	async function formulaProblem(body: Record<string, unknown>, code = "invalid-formula") {
		return expectProblem(await submitJob(body), 422, code);
	}

	it("points at an unknown variable and suggests the input meant", async () => {
		const problem = await formulaProblem({
			expression: "(nir - nri) / (nir + red)",
			inputs: { nir: input, red: input },
		});
		expect(problem.errors).toEqual([
			{ path: "expression", message: "unknown variable 'nri' at 8; did you mean 'nir'?" },
		]);
		// Names are looked up as own keys only: an object's inherited members are not variables.
		const inherited = await formulaProblem({ expression: "nir * constructor", inputs: { nir: input } });
		expect(inherited.errors?.[0]?.message).toBe("unknown variable 'constructor' at 7 (the inputs are nir)");
		const far = await formulaProblem({ expression: "nir * ozone", inputs: { nir: input } });
		expect(far.errors).toEqual([{ path: "expression", message: "unknown variable 'ozone' at 7 (the inputs are nir)" }]);
	});

	it("points at syntax errors, unknown functions and wrong argument counts", async () => {
		const cases: [string, string][] = [
			["(nir - red / (nir + red", "expected ')', found end of formula at 24"],
			["nir + * red", "expected a number, name or '(', found '*' at 7"],
			["nir $ red", "unexpected character '$' at 5"],
			["nir red", "unexpected 'red' at 5"],
			["2nir", "unexpected 'n' after number at 2"],
			["foo(nir)", "unknown function 'foo'; use min, max, abs, sqrt, exp, log, tanh, clamp, where, bit at 1"],
			["clamp(nir, red)", "clamp() takes 3 arguments, got 2 at 1"],
			["nir.red", "unexpected character '.' at 4"],
		];
		for (const [expression, message] of cases) {
			const problem = await formulaProblem({ expression, inputs: { nir: input, red: input } });
			expect(problem.errors, expression).toEqual([{ path: "expression", message }]);
		}
	});

	it("refuses expressions that are too long or too deeply nested", async () => {
		const long = `nir${" + nir".repeat(200)}`;
		const tooLong = await formulaProblem({ expression: long, inputs: { nir: input } });
		expect(tooLong.errors).toEqual([
			{ path: "expression", message: `formula is ${long.length} characters long; at most 1000 are allowed` },
		]);
		const deep = `${"(".repeat(40)}nir${")".repeat(40)}`;
		const tooDeep = await formulaProblem({ expression: deep, inputs: { nir: input } });
		expect(tooDeep.errors).toEqual([
			{ path: "expression", message: "formula is nested more than 32 levels deep at 33" },
		]);
	});

	it("names a catalog band without an input, and inputs an expression does not use", async () => {
		const missing = await formulaProblem({ index: "EVI", inputs: { nir: input, red: input } }, "invalid-inputs");
		expect(missing.errors).toEqual([{ path: "inputs.blue", message: "required by EVI" }]);
		const unused = await formulaProblem(
			{ expression: "nir * 2", inputs: { nir: input, green: input, "2x": input } },
			"invalid-inputs",
		);
		expect(unused.errors?.map((error) => error.path)).toEqual(["inputs.green", "inputs.2x"]);
		expect(unused.errors?.[1]?.message).toContain("input names must be letters, digits and _");
		const none = await formulaProblem({ expression: "1 + 2", inputs: {} }, "invalid-inputs");
		expect(none.errors).toEqual([{ path: "inputs", message: "an expression needs at least one input" }]);
	});

	it("refuses unknown constants, constants without a value, and unused expression constants", async () => {
		const unknown = await formulaProblem({ index: "savi", constants: { l: 0.5 }, inputs: { nir: input, red: input } });
		expect(unknown.errors).toEqual([
			{ path: "constants.l", message: "unknown constant 'l'; did you mean 'L'? (SAVI takes L)" },
		]);
		const none = await formulaProblem({ index: "NDVI", constants: { L: 1 }, inputs: { nir: input, red: input } });
		expect(none.errors?.[0]?.message).toBe("unknown constant 'L' (NDVI takes no constants)");
		// NIRvP needs the photosynthetically active radiation, which has no default.
		const needed = await formulaProblem({ index: "NIRvP", inputs: { nir: input, red: input } });
		expect(needed.errors?.map((error) => error.path)).toEqual(["constants.PAR"]);
		expect(needed.errors?.[0]?.message).toContain("has no default");
		const unused = await formulaProblem(
			{ expression: "nir * 2", constants: { k: 1 }, inputs: { nir: input } },
			"invalid-inputs",
		);
		expect(unused.errors).toEqual([{ path: "constants.k", message: "not used by the expression" }]);
	});

	it("wants exactly one of index and expression, and finite numbers for constants, scale and offset", async () => {
		const both = await formulaProblem(
			{ index: "ndvi", expression: "nir", inputs: { nir: input } },
			"validation-failed",
		);
		expect(both.errors).toEqual([{ path: "expression", message: "give index or expression, not both" }]);
		const neither = await formulaProblem({ inputs: { nir: input } }, "validation-failed");
		expect(neither.errors).toEqual([{ path: "index", message: "give index or expression" }]);
		const badScale = await formulaProblem(
			{ index: "ndvi", inputs: { nir: { upload_id, scale: "0.0001" }, red: input } },
			"validation-failed",
		);
		expect(badScale.errors?.map((error) => error.path)).toEqual(["inputs.nir.scale"]);
		const badConstant = await formulaProblem(
			{ index: "savi", constants: { L: "half" }, inputs: {} },
			"validation-failed",
		);
		expect(badConstant.errors?.map((error) => error.path)).toEqual(["constants.L"]);
	});

	it("wants a histogram range whose first edge is below its last, and 1 to 1000 whole bins", async () => {
		const ndvi = { index: "ndvi", inputs: { nir: input, red: input } };
		const reversed = await formulaProblem({ ...ndvi, histogram: { range: [1, -1] } }, "validation-failed");
		expect(reversed.errors).toEqual([
			{ path: "histogram.range", message: "the range's first edge must be below its last" },
		]);
		for (const bins of [0, 1001, 2.5]) {
			const problem = await formulaProblem({ ...ndvi, histogram: { bins } }, "validation-failed");
			expect(problem.errors?.map((error) => error.path)).toEqual(["histogram.bins"]);
		}
		const unknown = await formulaProblem({ ...ndvi, histogram: { edges: [0, 1] } }, "validation-failed");
		expect(unknown.errors?.map((error) => error.path)).toEqual(["histogram.edges"]);
	});
});
