/** GET /v1/jobs: the tenant's jobs, newest first, a page at a time, optionally by status. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listArtifactsOfJobs } from "../../db/artifacts";
import { type JobStatus, listTenantJobs } from "../../db/jobs";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { jobListExample } from "./examples";
import { pageCursors, pageQuery } from "./paging";
import { JobSchema, JobStatusSchema, renderJob } from "./schemas";

const cursors = pageCursors("job");

const JobListQuery = z.object({
	status: z
		// One status, several separated by commas, or the parameter repeated.
		.preprocess((value) => (typeof value === "string" ? value.split(",") : value), z.array(JobStatusSchema).min(1))
		.optional()
		.openapi({
			param: { name: "status", in: "query", style: "form", explode: false },
			description: "Only jobs in these statuses, comma-separated; all statuses when absent",
			example: ["queued", "running"],
		}),
	...pageQuery("Jobs", cursors, jobListExample.next),
});

const JobListSchema = z
	.object({
		jobs: z.array(JobSchema),
		next: z.string().nullable().openapi({
			description: "Pass as `cursor` for the next page (with the same filter); null on the last page",
			example: jobListExample.next,
		}),
	})
	.openapi("JobList");

export const listJobsRoute = createRoute({
	method: "get",
	path: "/v1/jobs",
	operationId: "listJobs",
	tags: ["jobs"],
	summary: "List jobs",
	description:
		"The tenant's jobs, newest first, at most `limit` per page. Follow `next` until it is null; jobs submitted meanwhile do not shift the pages already served.",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	request: { query: JobListQuery },
	responses: {
		200: {
			description: "A page of jobs",
			headers: keyedHeaders,
			content: { "application/json": { schema: JobListSchema, example: jobListExample } },
		},
		...problemResponses(401, 403, 422, 429),
	},
});

export function registerListJobs(app: App): void {
	app.openapi(listJobsRoute, async function listJobs(c) {
		const { status, limit, cursor } = c.req.valid("query");
		const { tenantId } = c.get("principal");
		const statuses: readonly JobStatus[] = status ?? JobStatusSchema.options;
		const after = cursor === undefined ? null : cursors.decode(cursor);
		const page = await listTenantJobs(c.env.DB, tenantId, { statuses: [...new Set(statuses)], after, limit });
		const artifacts = await listArtifactsOfJobs(
			c.env.DB,
			tenantId,
			page.jobs.map((job) => job.id),
		);
		return c.json(
			{
				jobs: page.jobs.map((job) => renderJob(job, artifacts.get(job.id) ?? [])),
				next: page.next ? cursors.encode(page.next) : null,
			},
			200,
		);
	});
}
