/**
 * The problem schema, the error responses every route declares in the OpenAPI document, and
 * the response headers answers share (each declared once, under components.headers).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { PROBLEM_TYPE_BASE, type ProblemCode, problemTypes, problemTypeUri } from "./problems";

export const PROBLEM_MEDIA_TYPE = "application/problem+json";

type HeaderComponent = Parameters<OpenAPIHono["openAPIRegistry"]["registerComponent"]>[2];

const seconds = { type: "integer", minimum: 0 } as const;

/** Every response header the API sends beyond the body's own framing, as components.headers. */
const responseHeaderComponents = {
	traceparent: {
		description:
			"W3C Trace Context of this request; its trace id is the problem's `trace_id` and the jobs' and logs'. Send a traceparent to continue your own trace.",
		required: true,
		schema: {
			type: "string",
			pattern: "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
			example: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		},
	},
	"RateLimit-Limit": {
		description: "Requests this API key may make in the current window",
		schema: { type: "integer", minimum: 0, example: 600 },
	},
	"RateLimit-Remaining": {
		description: "Requests left to this API key in the current window",
		schema: { type: "integer", minimum: 0, example: 599 },
	},
	"RateLimit-Reset": { description: "Seconds until the window starts anew", schema: { ...seconds, example: 42 } },
	"RateLimit-Policy": {
		description: "The limit and its window in seconds (IETF RateLimit header fields draft)",
		schema: { type: "string", example: "600;w=60" },
	},
	"Retry-After": {
		description: "Seconds to wait before trying again (or, for a live job, before polling again)",
		schema: { ...seconds, example: 10 },
	},
	"WWW-Authenticate": {
		description: "The Bearer challenge; says invalid_token or insufficient_scope (with the scope) when it applies",
		required: true,
		schema: { type: "string", example: 'Bearer realm="eo-edge", error="insufficient_scope", scope="jobs:write"' },
	},
	"Idempotent-Replayed": {
		description: "Present on the first response replayed for a repeated Idempotency-Key",
		schema: { type: "string", enum: ["true"] },
	},
	"Content-Range": {
		description: "The bytes sent and the artifact's size, or `bytes */size` when the range is past its end",
		required: true,
		schema: { type: "string", example: "bytes 0-1023/262400" },
	},
	"Content-Length": { description: "Bytes in the body", schema: { type: "integer", minimum: 0, example: 262400 } },
	ETag: {
		description: "The stored artifact's entity tag",
		schema: { type: "string", example: '"0b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e"' },
	},
	"Content-Disposition": {
		description: "The file name to save the artifact under",
		required: true,
		schema: { type: "string", example: 'attachment; filename="job_0123456789abcdef01234567-result.tif"' },
	},
	"Accept-Ranges": {
		description: "The artifact can be read by byte ranges (Range: bytes=first-last)",
		schema: { type: "string", enum: ["bytes"] },
	},
} satisfies Record<string, HeaderComponent>;

export type ResponseHeaderName = keyof typeof responseHeaderComponents;

export function registerResponseHeaders(registry: OpenAPIHono["openAPIRegistry"]): void {
	for (const [name, header] of Object.entries(responseHeaderComponents)) {
		registry.registerComponent("headers", name, header);
	}
}

/** References to shared response headers, for a response's `headers`. */
export function responseHeaders(...names: ResponseHeaderName[]): Record<string, { $ref: string }> {
	return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

const rateLimitHeaders = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"] as const;

/** Headers of every answer of an operation without a key (traceparent), or with one (and RateLimit-*). */
export const tracedHeaders = responseHeaders("traceparent");
export const keyedHeaders = responseHeaders("traceparent", ...rateLimitHeaders);

/** Where the resource a request created can be read. */
export function locationHeader(example: string) {
	return {
		Location: { description: "The created resource", required: true, schema: { type: "string" as const, example } },
	};
}

/**
 * Headers of an error answer besides traceparent. An operation that can answer 401 takes a key,
 * and every answer after the key is found counts against (and reports) its rate limit.
 */
function problemHeaders(status: ErrorStatus, keyed: boolean): Record<string, { $ref: string }> {
	const rateLimited = keyed && status !== 401 ? rateLimitHeaders : [];
	const extra: Partial<Record<ErrorStatus, ResponseHeaderName[]>> = {
		401: ["WWW-Authenticate"],
		403: ["WWW-Authenticate"],
		// An Idempotency-Key still being processed
		409: ["Retry-After"],
		416: ["Content-Range"],
		429: ["Retry-After"],
		// Storage briefly unavailable
		503: ["Retry-After"],
	};
	return responseHeaders("traceparent", ...rateLimited, ...(extra[status] ?? []));
}

export const ProblemSchema = z
	.object({
		type: z.url().openapi({ example: `${PROBLEM_TYPE_BASE}raster-mismatch` }),
		title: z.string().openapi({ example: "The input rasters do not share one grid" }),
		status: z.number().int().openapi({ example: 422 }),
		detail: z.string().openapi({ example: "sizes differ: 'red' and 'nir' are 256 x 256 and 256 x 255 pixels" }),
		instance: z.string().nullable().openapi({ example: "/v1/jobs/job_0123456789abcdef01234567" }),
		trace_id: z.string().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
		errors: z
			.array(
				z.object({
					path: z.string().openapi({
						description:
							"The request field: names dotted, positions in brackets (`inputs.red.band`, `dates[1].datetime`, `features[3].geometry`)",
					}),
					message: z.string(),
				}),
			)
			.optional()
			.openapi({ example: [{ path: "inputs.nir", message: "not on the grid of inputs.red" }] }),
	})
	.openapi("Problem");

/** What each error status means, and the example problem the document shows for it. */
const errorStatuses = {
	400: { description: "Malformed request", code: "malformed-request", detail: "The body is not valid JSON." },
	401: {
		description: "Missing, unknown or revoked API key",
		code: "unauthorized",
		detail: "Send an API key as Authorization: Bearer <key>.",
	},
	403: {
		description: "The key lacks the scope",
		code: "forbidden",
		detail: "This operation needs the jobs:write scope; the key has jobs:read.",
	},
	404: { description: "Not found", code: "not-found", detail: "Job job_0123456789abcdef01234567 does not exist." },
	409: {
		description: "Conflict with an earlier request or the resource's state",
		code: "idempotency-key-reused",
		detail: "Idempotency-Key 'order-42' was first used with a different request body.",
	},
	411: {
		description: "Content-Length missing",
		code: "length-required",
		detail: "Send the file with a Content-Length header (chunked uploads are not accepted).",
	},
	413: {
		description: "Payload too large",
		code: "payload-too-large",
		detail: "The upload is 209715200 bytes; the limit is 104857600 bytes.",
	},
	415: {
		description: "Unsupported media type",
		code: "unsupported-media-type",
		detail: "Send the JSON body with Content-Type: application/json.",
	},
	416: { description: "Range not satisfiable", code: "range-not-satisfiable", detail: "bytes=9000- is past the end." },
	422: {
		description: "The request is well-formed but cannot be processed",
		code: "validation-failed",
		detail: "inputs.nir.upload_id: must be an upload id (upl_ followed by 24 hex digits)",
	},
	429: {
		description: "Rate limit or quota reached; retry after Retry-After seconds",
		code: "rate-limited",
		detail: "This key made 600 requests in the current minute; the limit is 600.",
	},
	500: { description: "Internal error", code: "internal-error", detail: "An unexpected error occurred." },
	503: {
		description: "Storage is briefly unavailable; retry after Retry-After seconds",
		code: "storage-unavailable",
		detail: "The file is stored, but reading it back failed; retry after Retry-After seconds.",
	},
} as const satisfies Record<number, { description: string; code: ProblemCode; detail: string }>;

type ErrorStatus = keyof typeof errorStatuses;

function exampleProblem(status: ErrorStatus) {
	const { code, detail } = errorStatuses[status];
	return {
		type: problemTypeUri(code),
		title: problemTypes[code].title,
		status,
		detail,
		instance: "/v1/jobs",
		trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
		...(code === "validation-failed"
			? { errors: [{ path: "inputs.nir.upload_id", message: "must be an upload id (upl_ followed by 24 hex digits)" }] }
			: {}),
	};
}

/** Error responses for a route (500 always among them), all with the one problem schema. */
export function problemResponses<const S extends readonly ErrorStatus[]>(...statuses: S) {
	const keyed = statuses.includes(401);
	return Object.fromEntries(
		[...statuses, 500 as const].map((status) => [
			status,
			{
				description: errorStatuses[status].description,
				headers: problemHeaders(status, keyed),
				content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema, example: exampleProblem(status) } },
			},
		]),
	) as Record<
		S[number] | 500,
		{
			description: string;
			headers: Record<string, { $ref: string }>;
			content: { [PROBLEM_MEDIA_TYPE]: { schema: typeof ProblemSchema; example: ReturnType<typeof exampleProblem> } };
		}
	>;
}
