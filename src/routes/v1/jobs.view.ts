/**
 * GET /v1/jobs/{id}/view: a page to look at one job in a browser. A browser's navigation sends
 * no key, so the page is served to anyone: it holds no job data. Its script (web/job-page.ts,
 * a static asset of this worker) asks for the key, keeps it in the tab's session storage and
 * reads the job through the API with it. Any well-formed id gets the page, so the page says
 * nothing about which jobs exist; a malformed one is a 404, as on every job route.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { ApiError } from "../../errors/api-error";
import { problemResponses, tracedHeaders } from "../../errors/openapi";
import { JOB_ID_PATTERN } from "../../ids";
import { JobIdParam } from "./schemas";

export const VIEW_ASSETS = "/v1/view";

const FAVICON =
	"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%231a9850'/%3E%3C/svg%3E";

/** The page runs only its own script, talks only to this API, and is never framed. */
const CONTENT_SECURITY_POLICY = [
	"default-src 'none'",
	"script-src 'self'",
	// uPlot positions its elements with inline styles.
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' blob: data:",
	"connect-src 'self'",
	"frame-ancestors 'none'",
	"base-uri 'none'",
	"form-action 'none'",
].join("; ");

function page(jobId: string): string {
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EO Edge job ${jobId}</title>
<link rel="icon" href="${FAVICON}">
<link rel="stylesheet" href="${VIEW_ASSETS}/job-page.css">
<script src="${VIEW_ASSETS}/job-page.js" defer></script>
</head>
<body></body>
</html>
`;
}

function pageHeader(description: string, value: string) {
	return { description, required: true, schema: { type: "string" as const, example: value } };
}

export const viewJobRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/view",
	operationId: "viewJob",
	tags: ["jobs"],
	summary: "A page to look at a job in a browser",
	description:
		"An HTML page, served with no key: it asks for one, keeps it in the tab's session storage (never in a URL) and shows the job's status and progress (live while it runs), a Gantt chart of its stages and windows from its trace, and its results: the histogram, preview and statistics of an index job, each field's series of a zonal one.",
	request: { params: JobIdParam },
	responses: {
		200: {
			description: "The page",
			headers: {
				...tracedHeaders,
				"Content-Security-Policy": pageHeader("Only this worker's script, styles and API", CONTENT_SECURITY_POLICY),
				"Referrer-Policy": pageHeader("The page's URL is never sent on", "no-referrer"),
				"X-Content-Type-Options": pageHeader("The page is HTML and nothing else", "nosniff"),
				"Cache-Control": pageHeader("Not kept", "no-store"),
			},
			content: { "text/html": { schema: z.string().openapi({ example: "<!doctype html>…" }) } },
		},
		...problemResponses(404),
	},
});

export function registerViewJob(app: App): void {
	app.openapi(viewJobRoute, async function viewJob(c) {
		const { id } = c.req.valid("param");
		// Only a well-formed id is written into the page; anything else names no job.
		if (!JOB_ID_PATTERN.test(id)) throw new ApiError("not-found", `Job ${id} does not exist.`);
		return c.html(page(id), 200, {
			"Content-Security-Policy": CONTENT_SECURITY_POLICY,
			"Referrer-Policy": "no-referrer",
			"X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store",
		});
	});
}
