/**
 * POST /v1/jobs/{id}/cancel: stops a queued or running job. Stage messages already queued
 * find it ended and do nothing, and what it wrote so far is deleted.
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listArtifacts } from "../../db/artifacts";
import { getTenantJob } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { recordJobLog } from "../../observability/job-log";
import { log } from "../../observability/log";
import { endJobAsCanceled } from "../../pipeline/failure";
import { canceledJobExample } from "./examples";
import { JobIdParam, JobSchema, renderJob } from "./schemas";

export const cancelJobRoute = createRoute({
	method: "post",
	path: "/v1/jobs/{id}/cancel",
	operationId: "cancelJob",
	tags: ["jobs"],
	summary: "Cancel a job",
	description: "A job that has already succeeded, failed or been canceled answers 409.",
	middleware: [requireScope("jobs:write")] as const,
	security: bearerWith("jobs:write"),
	request: { params: JobIdParam },
	responses: {
		200: {
			description: "The job, now canceled",
			headers: keyedHeaders,
			content: { "application/json": { schema: JobSchema, example: canceledJobExample } },
		},
		...problemResponses(401, 403, 404, 409, 429),
	},
});

export function registerCancelJob(app: App): void {
	app.openapi(cancelJobRoute, async function cancelJob(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const { traceId, spanId } = c.get("trace");
		if (!(await getTenantJob(c.env.DB, tenantId, id))) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const canceledNow = await endJobAsCanceled(c.env, tenantId, id, traceId);
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		if (!canceledNow)
			throw new ApiError(
				"job-ended",
				`Job ${id} has already ${job.status === "canceled" ? "been canceled" : job.status}.`,
			);
		await recordJobLog(c.env.DB, {
			jobId: id,
			level: "info",
			stage: job.stage ?? "ingest",
			code: "canceled",
			message: "canceled by the tenant (POST /v1/jobs/{id}/cancel)",
			traceId: job.traceId,
			spanId,
		});
		log.info("job_canceled", { trace_id: traceId, job_id: id, stage: job.stage ?? undefined });
		return c.json(renderJob(job, await listArtifacts(c.env.DB, tenantId, id)), 200);
	});
}
