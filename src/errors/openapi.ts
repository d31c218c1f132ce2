/** The problem schema and the error responses every route declares in the OpenAPI document. */
import { z } from "@hono/zod-openapi";
import { PROBLEM_TYPE_BASE, type ProblemCode, problemTypes, problemTypeUri } from "./problems";

export const PROBLEM_MEDIA_TYPE = "application/problem+json";

export const ProblemSchema = z
	.object({
		type: z.url().openapi({ example: `${PROBLEM_TYPE_BASE}raster-mismatch` }),
		title: z.string().openapi({ example: "The input rasters do not share one grid" }),
		status: z.number().int().openapi({ example: 422 }),
		detail: z.string().openapi({ example: "sizes differ: 'red' and 'nir' are 256 x 256 and 256 x 255 pixels" }),
		instance: z.string().nullable().openapi({ example: "/v1/jobs/job_0123456789abcdef01234567" }),
		trace_id: z.string().openapi({ example: "4bf92f3577b34da6a3ce929d0e0e4736" }),
		errors: z
			.array(z.object({ path: z.string(), message: z.string() }))
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
	return Object.fromEntries(
		[...statuses, 500 as const].map((status) => [
			status,
			{
				description: errorStatuses[status].description,
				content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema, example: exampleProblem(status) } },
			},
		]),
	) as Record<
		S[number] | 500,
		{
			description: string;
			content: { [PROBLEM_MEDIA_TYPE]: { schema: typeof ProblemSchema; example: ReturnType<typeof exampleProblem> } };
		}
	>;
}
