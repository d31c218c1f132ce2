/** GET /v1/jobs/{id}: a job's status, stage, progress, error and artifacts. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listArtifacts } from "../../db/artifacts";
import { getTenantJob, isTerminal } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses, responseHeaders } from "../../errors/openapi";
import { succeededJobExample } from "./examples";
import { JobIdParam, JobSchema, renderJob } from "./schemas";

/** How long a client should wait before polling a live job again. */
export const POLL_AFTER_SECONDS = "1";

export const getJobRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}",
	operationId: "getJob",
	tags: ["jobs"],
	summary: "Get a job",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	description: "While the job is queued or running the response carries Retry-After, the suggested polling interval.",
	request: { params: JobIdParam },
	responses: {
		200: {
			description: "The job",
			headers: { ...keyedHeaders, ...responseHeaders("Retry-After") },
			content: { "application/json": { schema: JobSchema, example: succeededJobExample } },
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerGetJob(app: App): void {
	app.openapi(getJobRoute, async function getJobById(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const artifacts = await listArtifacts(c.env.DB, tenantId, id);
		const headers: Record<string, string> = isTerminal(job.status) ? {} : { "Retry-After": POLL_AFTER_SECONDS };
		return c.json(renderJob(job, artifacts), 200, headers);
	});
}
