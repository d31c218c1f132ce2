/**
 * POST /v1/jobs: compiles the job's formula (a catalog index or a custom expression) against
 * its inputs, checks the uploads, records the job with its compiled program and hands it to
 * the ingest queue.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { failJob, findUploads, insertJob, type JobRequest } from "../../db/queries";
import { ApiError, type FieldError, jobProblem } from "../../errors/api-error";
import { problemResponses } from "../../errors/openapi";
import { MAX_FORMULA_DEPTH, MAX_FORMULA_LENGTH } from "../../formula/parse";
import { newJobId, UPLOAD_ID_PATTERN } from "../../ids";
import { compileFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import { log } from "../../observability/log";
import { sendToStage } from "../../pipeline/send";
import { remoteHref } from "../../raster/remote";
import { createJobExample, queuedJobExample } from "./examples";
import { JobSchema, renderJob } from "./schemas";

const JobInputSchema = z
	.strictObject({
		upload_id: z
			.string()
			.regex(UPLOAD_ID_PATTERN, "must be an upload id (upl_ followed by 24 hex digits)")
			.optional()
			.openapi({ description: "An upload; give this or href", example: "upl_0123456789abcdef01234567" }),
		href: remoteHref.optional().openapi({
			description:
				"HTTPS URL of a Cloud-Optimized GeoTIFF, read by byte ranges (the server must honour Range); give this or upload_id",
			example: "https://example.com/S2B_33UUP_20240612_0_L2A/B04.tif",
		}),
		band: z.number().int().min(1).default(1).openapi({ description: "1-based band of the file", example: 1 }),
		scale: z
			.number()
			.default(1)
			.openapi({ description: "The formula sees sample * scale + offset (e.g. 0.0001 for reflectance)", example: 1 }),
		offset: z
			.number()
			.default(0)
			.openapi({ description: "Added after scale (e.g. -0.1 for Sentinel-2 L2A since baseline 04.00)", example: 0 }),
	})
	.refine((input) => (input.upload_id === undefined) !== (input.href === undefined), {
		message: "give exactly one of upload_id and href",
	})
	.openapi("JobInput");

export const CreateJobSchema = z
	.strictObject({
		index: z.string().min(1).optional().openapi({
			description:
				"A catalog index id (the Awesome Spectral Indices short name), case-insensitive: NDVI, EVI, NBR, …; GET /v1/indices lists them. Give index or expression.",
			example: "ndvi",
		}),
		expression: z
			.string()
			.min(1)
			.optional()
			.openapi({
				description: `A formula over the input names: numbers, + - * /, ** (power), unary minus, parentheses and min max abs sqrt exp log tanh clamp(x, lo, hi). At most ${MAX_FORMULA_LENGTH} characters and ${MAX_FORMULA_DEPTH} levels of nesting. Give index or expression.`,
				example: "(nir - red) / (nir + red + 0.5) * 1.5",
			}),
		constants: z
			.record(z.string(), z.number())
			.optional()
			.openapi({
				description:
					"Values of the index's constants, overriding the catalog defaults (e.g. L for SAVI); with an expression, extra named values it uses",
				example: { L: 0.5 },
			}),
		inputs: z.record(z.string(), JobInputSchema).openapi({
			description:
				"One entry per band: for an index keyed by STAC common name (red, nir, swir16, …), for an expression by the names it uses",
			example: {
				red: { upload_id: "upl_0123456789abcdef01234567", band: 1 },
				nir: { upload_id: "upl_89abcdef0123456789abcdef", band: 1 },
			},
		}),
		nodata: z
			.number()
			.optional()
			.openapi({ description: "Overrides every input's GDAL_NODATA: pixels equal to it become NaN", example: 0 }),
	})
	.superRefine((request, context) => {
		if ((request.index === undefined) === (request.expression === undefined)) {
			context.addIssue({
				code: "custom",
				path: [request.index === undefined ? "index" : "expression"],
				message: request.index === undefined ? "give index or expression" : "give index or expression, not both",
			});
		}
	})
	.openapi("CreateJob");

export const createJobRoute = createRoute({
	method: "post",
	path: "/v1/jobs",
	operationId: "createJob",
	tags: ["jobs"],
	summary: "Submit an index or expression computation",
	request: {
		body: { required: true, content: { "application/json": { schema: CreateJobSchema, example: createJobExample } } },
	},
	responses: {
		202: {
			description: "Accepted; poll the job at Location",
			headers: z.object({ Location: z.string().openapi({ example: "/v1/jobs/job_0123456789abcdef01234567" }) }),
			content: { "application/json": { schema: JobSchema, example: queuedJobExample } },
		},
		...problemResponses(400, 415, 422),
	},
});

type CreateJob = z.infer<typeof CreateJobSchema>;

/** Uploads exist and have the bands asked for; remote inputs are checked by the pipeline. */
async function checkUploads(db: D1Database, inputs: JobRequest["inputs"]): Promise<ApiError | null> {
	const uploadIds = Object.values(inputs).flatMap((input) => (input.upload_id === undefined ? [] : [input.upload_id]));
	const uploads = await findUploads(db, [...new Set(uploadIds)]);
	const unknown: FieldError[] = [];
	const badBands: FieldError[] = [];
	for (const [name, input] of Object.entries(inputs)) {
		if (input.upload_id === undefined) continue;
		const upload = uploads.get(input.upload_id);
		if (!upload)
			unknown.push({ path: `inputs.${name}.upload_id`, message: `upload ${input.upload_id} does not exist` });
		else if (input.band > upload.raster.bands) {
			badBands.push({
				path: `inputs.${name}.band`,
				message: `upload ${input.upload_id} has ${upload.raster.bands} band${upload.raster.bands === 1 ? "" : "s"}`,
			});
		}
	}
	if (unknown.length > 0) {
		return new ApiError("unknown-upload", unknown.map((error) => error.message).join("; "), { errors: unknown });
	}
	if (badBands.length > 0) {
		return new ApiError("invalid-inputs", badBands.map((error) => `${error.path}: ${error.message}`).join("; "), {
			errors: badBands,
		});
	}
	return null;
}

/** The validated inputs as stored: each names its upload or its href, never both. */
function inputRequests(inputs: CreateJob["inputs"]): JobRequest["inputs"] {
	return Object.fromEntries(
		Object.entries(inputs).map(([name, { upload_id, href, band, scale, offset }]) => {
			if (upload_id !== undefined) return [name, { upload_id, band, scale, offset }];
			if (href !== undefined) return [name, { href, band, scale, offset }];
			throw new Error(`inputs.${name}: the schema let through an input with neither upload_id nor href`);
		}),
	);
}

export function registerCreateJob(app: App): void {
	app.openapi(createJobRoute, async function createJob(c) {
		const request = c.req.valid("json");
		const formula = compileFormula(request);
		const inputs = inputRequests(request.inputs);
		const uploadError = await checkUploads(c.env.DB, inputs);
		if (uploadError) throw uploadError;

		const { traceId } = c.get("trace");
		const jobRequest: JobRequest = {
			index: request.index,
			expression: request.expression,
			constants: request.constants,
			inputs,
			nodata: request.nodata,
		};
		const indexId = formula.index ?? EXPRESSION_INDEX;
		const job = await insertJob(c.env.DB, { id: newJobId(), indexId, formula, request: jobRequest, traceId });
		try {
			await sendToStage(c.env, "ingest", { job_id: job.id, trace_id: traceId });
		} catch (error) {
			// A job nobody will process must not sit in `queued`.
			await failJob(c.env.DB, job.id, jobProblem(error, job.id, traceId));
			throw error;
		}
		log.info("job_created", { trace_id: traceId, job_id: job.id, stage: "ingest", index: indexId });
		return c.json(renderJob(job, []), 202, { Location: `/v1/jobs/${job.id}` });
	});
}
