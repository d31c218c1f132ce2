/** The problem schema and the error responses every route declares in the OpenAPI document. */
import { z } from "@hono/zod-openapi";
import { PROBLEM_TYPE_BASE } from "./problems";

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

const descriptions: Record<number, string> = {
	400: "Malformed request",
	404: "Not found",
	411: "Content-Length missing",
	413: "Payload too large",
	415: "Unsupported media type",
	416: "Range not satisfiable",
	422: "The request is well-formed but cannot be processed",
	500: "Internal error",
};

/** Error responses for a route, all with the one problem schema. */
export function problemResponses<const S extends readonly (keyof typeof descriptions & number)[]>(...statuses: S) {
	return Object.fromEntries(
		[...statuses, 500].map((status) => [
			status,
			{ description: descriptions[status] ?? "Error", content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema } } },
		]),
	) as Record<
		S[number] | 500,
		{ description: string; content: { [PROBLEM_MEDIA_TYPE]: { schema: typeof ProblemSchema } } }
	>;
}
