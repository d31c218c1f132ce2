/**
 * The one app factory: the worker, the tests and the OpenAPI script all build the API here,
 * with trace context, problem+json errors and the generated document.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./context";
import { ApiError, toProblem, validationError } from "./errors/api-error";
import { PROBLEM_MEDIA_TYPE, registerResponseHeaders } from "./errors/openapi";
import type { ProblemCode } from "./errors/problems";
import { describeError, log } from "./observability/log";
import { formatTraceparent, traceFromHeader } from "./observability/trace";
import { registerRoot } from "./routes/root";
import { OPENAPI_PATH } from "./routes/v1/docs";
import { registerV1Routes } from "./routes/v1/index";
import { API_VERSION } from "./version";

export { API_VERSION };

export const openApiDocumentConfig = {
	openapi: "3.1.0",
	info: {
		title: "EO Edge API",
		version: API_VERSION,
		description:
			"Spectral indices (NDVI, NDWI, …) from GeoTIFF bands, computed in WebAssembly through a queued pipeline on Cloudflare Workers. Every error is an RFC 9457 application/problem+json document.",
	},
	servers: [{ url: "http://localhost:8787", description: "Local development (npm run dev)" }],
	tags: [
		{ name: "uploads", description: "GeoTIFF bands stored for jobs" },
		{ name: "jobs", description: "Index computations and their artifacts" },
		{ name: "fields", description: "Sets of field boundaries (GeoJSON) for statistics per field" },
		{
			name: "webhooks",
			description:
				"Signed notifications of job events (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature), retried for about a day",
		},
		{ name: "indices", description: "The indices available" },
		{ name: "operations", description: "Views across tenants for the operator (scope ops:read)" },
		{ name: "service", description: "Health and the contract itself" },
	],
};

/**
 * The request headers a browser may send: the ones the operations read (the contract's header
 * parameters, the bearer key, the body's type, the trace, a byte range). A test checks that
 * every header parameter of the contract is here.
 */
export const CORS_REQUEST_HEADERS = [
	"Authorization",
	"Content-Type",
	"Idempotency-Key",
	"Upload-Length",
	"Range",
	"traceparent",
] as const;

/**
 * The response headers a browser's script may read, beyond the CORS-safelisted ones (such as
 * Content-Type and Content-Length). A test checks that every response header the contract
 * declares is here.
 */
export const CORS_EXPOSED_HEADERS = [
	"Location",
	"Retry-After",
	"traceparent",
	"Content-Range",
	"Content-Disposition",
	"Accept-Ranges",
	"ETag",
	"WWW-Authenticate",
	"RateLimit-Limit",
	"RateLimit-Remaining",
	"RateLimit-Reset",
	"RateLimit-Policy",
	"Idempotent-Replayed",
] as const;

/** HTTP errors raised by Hono or its validators, mapped onto our problem types. */
const HTTP_EXCEPTION_CODES: Record<number, ProblemCode> = {
	400: "malformed-request",
	404: "not-found",
	411: "length-required",
	413: "payload-too-large",
	415: "unsupported-media-type",
};

function problemResponse(c: Context<AppEnv>, error: unknown): Response {
	const trace = c.get("trace");
	const problem = toProblem(error, { instance: c.req.path, traceId: trace?.traceId ?? "" });
	const headers = error instanceof ApiError ? error.headers : {};
	return c.body(JSON.stringify(problem), problem.status as ContentfulStatusCode, {
		...headers,
		"Content-Type": PROBLEM_MEDIA_TYPE,
	});
}

function toApiError(error: unknown): ApiError | null {
	if (error instanceof ApiError) return error;
	if (error instanceof HTTPException) {
		const code = HTTP_EXCEPTION_CODES[error.status];
		if (code === "unsupported-media-type") {
			return new ApiError(code, "Send the JSON body with Content-Type: application/json.");
		}
		if (code) return new ApiError(code, error.message || "The request could not be processed.");
	}
	return null;
}

export function createApp(): OpenAPIHono<AppEnv> {
	const app = new OpenAPIHono<AppEnv>({
		defaultHook: (result) => {
			if (!result.success) throw validationError(result.target, result.error);
		},
	});

	app.use("*", async function traceContext(c, next) {
		const trace = traceFromHeader(c.req.header("traceparent"));
		c.set("trace", trace);
		const started = Date.now();
		c.set("requestStartedAt", new Date(started).toISOString());
		await next();
		c.header("traceparent", formatTraceparent(trace));
		log.info("http_request", {
			trace_id: trace.traceId,
			span_id: trace.spanId,
			method: c.req.method,
			path: c.req.path,
			status: c.res.status,
			duration_ms: Date.now() - started,
		});
	});

	// An answer given before the body is read (401, 411, 413, …) cancels the body, so that the
	// connection closes after the answer instead of waiting to drain a body the client may never
	// finish: a Content-Length larger than what is sent otherwise left wrangler dev's proxy, and
	// the client, waiting for ever.
	app.use("*", async function cancelUnreadBody(c, next) {
		await next();
		const body = c.req.raw.body;
		// A body that already failed (the client went away) rejects the cancel; nothing is left to drain.
		if (body !== null && !body.locked) await body.cancel().catch(() => undefined);
	});

	// Browser clients of partners call the API directly, with a key; nothing rides on cookies,
	// so any origin may send the request headers the operations read and read what they answer.
	app.use(
		"/v1/*",
		cors({
			origin: "*",
			allowHeaders: [...CORS_REQUEST_HEADERS],
			exposeHeaders: [...CORS_EXPOSED_HEADERS],
			maxAge: 86400,
		}),
	);

	app.onError(function handleError(error, c) {
		const apiError = toApiError(error);
		// A 5xx problem (e.g. storage-unavailable) is ours: the operator gets its cause.
		if (!apiError || apiError.status >= 500) {
			log.error(apiError ? "server_problem" : "unhandled_error", {
				trace_id: c.get("trace")?.traceId,
				path: c.req.path,
				...describeError(error),
			});
		}
		return problemResponse(c, apiError ?? error);
	});

	app.notFound(function handleNotFound(c) {
		return problemResponse(c, new ApiError("not-found", `No route for ${c.req.method} ${c.req.path}.`));
	});

	app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
		type: "http",
		scheme: "bearer",
		description:
			"An API key, sent as `Authorization: Bearer <key>`. Each operation names the scope it needs (jobs:read, jobs:write, uploads:write, fields:read, fields:write, webhooks:read or webhooks:write; the operator views need ops:read, which no tenant key carries by default). Keys belong to a tenant, which sees only its own uploads, jobs, field sets and webhook endpoints.",
	});
	registerResponseHeaders(app.openAPIRegistry);
	registerV1Routes(app, API_VERSION);
	app.doc31(OPENAPI_PATH, openApiDocumentConfig);
	registerRoot(app, API_VERSION);
	return app;
}
