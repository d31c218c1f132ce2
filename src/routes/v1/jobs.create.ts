/**
 * POST /v1/jobs: has the job's process check and compile its request (the index process: its
 * formula, a catalog index or a custom expression, against its inputs), checks the uploads and
 * quotas, records the job with what its process compiled and hands it to the ingest queue.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import {
	canonicalJson,
	claim,
	type HeldClaim,
	readIdempotencyKey,
	release,
	remember,
	replayFor,
	replayHeaders,
} from "../../access/idempotency";
import { pixelQuotaProblem } from "../../access/quotas";
import type { App } from "../../context";
import type { TenantQuotas } from "../../db/access";
import { listArtifacts } from "../../db/artifacts";
import { findFieldSet } from "../../db/field-sets";
import { insertJobLog } from "../../db/job-logs";
import {
	admitJob,
	datedInputName,
	failJob,
	getTenantJob,
	type JobRecord,
	type JobRequest,
	type JobSpans,
} from "../../db/jobs";
import { findUploads } from "../../db/uploads";
import { ApiError, type FieldError, jobProblem } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses, responseHeaders } from "../../errors/openapi";
import { checkFieldCollection, fieldLimits } from "../../fields/collection";
import { FIELD_SET_ID_PATTERN, newJobId, sha256Hex } from "../../ids";
import { describeError, log } from "../../observability/log";
import { sendToStage } from "../../pipeline/send";
import { inputRequests, type JobInput, JobInputSchema } from "../../processes/inputs";
import {
	type ProcessRequest,
	processNames,
	processRequestFields,
	processRequestIssues,
	processRequests,
} from "../../processes/requests";
import { MAX_FIELD_DATES } from "../../processes/zonal/request";
import { operatorAllowlist, remoteUrlRefusal } from "../../raster/remote";
import { publicBaseUrl } from "../../stac/item";
import { copyFieldCollection, writeFieldCollection } from "../../storage/field-collections";
import { objectKeys } from "../../storage/keys";
import { fieldBodyLimit } from "./body-limit";
import { createJobExample, queuedJobExample } from "./examples";
import { IdempotencyKeyHeader, JobSchema, renderJob } from "./schemas";

/** A job slot frees when a job ends; small jobs end within seconds. */
const CONCURRENCY_RETRY_AFTER_SECONDS = 10;

/**
 * A host name (any case), or `*.` and a domain for any of its subdomains. No flags: the
 * document publishes only the pattern's source, so case is spelled out in the classes.
 */
const HOST_PATTERN = /^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;

const RemoteOptionsSchema = z
	.strictObject({
		allowed_hosts: z
			.array(z.string().max(253).regex(HOST_PATTERN, "must be a host name, or *. followed by a domain"))
			.min(1)
			.max(32)
			.openapi({
				description:
					"The only hosts this job's href inputs, and every redirect they take, may reach; `*.example.com` matches its subdomains",
				example: ["sentinel-cogs.s3.us-west-2.amazonaws.com"],
			}),
	})
	.openapi("RemoteOptions", { description: "Limits on what the job's remote inputs may fetch" });

export const CreateJobSchema = z
	.strictObject({
		process: z.enum(processNames).default("index").openapi({
			description:
				"What the job computes: `index` (the default) evaluates a catalog index or an expression into result.tif, stats.json and preview.png; `zonal_statistics` gives its statistics per field (and per date of a time series) in zones.geojson, zones.csv and zones.parquet",
			example: "index",
		}),
		...processRequestFields,
		inputs: z
			.record(z.string(), JobInputSchema)
			.optional()
			.openapi({
				description:
					"One entry per band: for an index keyed by STAC common name (red, nir, swir16, …), for an expression by the names it uses. A zonal_statistics time series gives `dates` instead",
				example: {
					red: { upload_id: "upl_0123456789abcdef01234567", band: 1 },
					nir: { upload_id: "upl_89abcdef0123456789abcdef", band: 1 },
				},
			}),
		nodata: z.number().optional().openapi({
			description:
				"Overrides every input's GDAL_NODATA (an input's own nodata overrides this): pixels equal to it become NaN",
			example: 0,
		}),
		remote: RemoteOptionsSchema.optional(),
		datetime: z.iso.datetime({ offset: true }).optional().openapi({
			description:
				"When the inputs' scene was acquired (RFC 3339): the `datetime` of the result's STAC Item (item.json), which otherwise is the job's creation time. A zonal_statistics time series gives each date's instead (dates[].datetime)",
			example: "2026-05-04T10:20:31Z",
		}),
	})
	.superRefine((request, context) => {
		const allowed = request.remote?.allowed_hosts;
		if (!allowed) return;
		for (const { segments, input } of requestInputs(request)) {
			if (input.href === undefined) continue;
			const refused = remoteUrlRefusal(new URL(input.href), [allowed]);
			if (refused) context.addIssue({ code: "custom", path: [...segments, "href"], message: refused });
		}
	})
	.superRefine((request, context) => {
		for (const issue of processRequestIssues(request.process, request)) context.addIssue({ code: "custom", ...issue });
	})
	.openapi("CreateJob");

const limitJobBody = fieldBodyLimit(
	(maxSize) =>
		`The request is larger than ${maxSize} bytes; store large field collections with POST /v1/fields and name them by field_set_id.`,
);

export const createJobRoute = createRoute({
	method: "post",
	path: "/v1/jobs",
	operationId: "createJob",
	tags: ["jobs"],
	summary: "Submit an index or expression computation",
	description:
		"With an Idempotency-Key header, the same key and body within 24 h return the first response again (with Idempotent-Replayed: true), and the same key with another body is a 409.",
	middleware: [requireScope("jobs:write"), limitJobBody] as const,
	security: bearerWith("jobs:write"),
	request: {
		headers: IdempotencyKeyHeader,
		body: { required: true, content: { "application/json": { schema: CreateJobSchema, example: createJobExample } } },
	},
	responses: {
		202: {
			description: "Accepted; poll the job at Location",
			headers: {
				...keyedHeaders,
				...locationHeader("/v1/jobs/job_0123456789abcdef01234567"),
				...responseHeaders("Idempotent-Replayed"),
			},
			content: { "application/json": { schema: JobSchema, example: queuedJobExample } },
		},
		...problemResponses(400, 401, 403, 409, 413, 415, 422, 429),
	},
});

type CreateJob = z.infer<typeof CreateJobSchema>;

/**
 * An input of a request with where it stands in it: `inputs.red`, or `dates[2].inputs.red` (and
 * as the segments of a zod issue's path).
 */
interface RequestedInput {
	path: string;
	segments: (string | number)[];
	input: Pick<JobInput, "upload_id" | "href" | "band">;
}

/** Every input of a request: its own, or each date's. */
function requestInputs(request: Pick<CreateJob, "inputs" | "dates">): RequestedInput[] {
	const named = (inputs: Record<string, JobInput>, date: number | null) =>
		Object.entries(inputs).map(([name, input]) => ({
			path: `${date === null ? "" : `dates[${date}].`}inputs.${name}`,
			segments: [...(date === null ? [] : ["dates", date]), "inputs", name],
			input,
		}));
	return [...named(request.inputs ?? {}, null), ...(request.dates ?? []).flatMap((date, i) => named(date.inputs, i))];
}

/**
 * The tenant's uploads exist and have the bands asked for (remote inputs are checked by the
 * pipeline); `pixels` is the size of the grid they give, 0 when only remote inputs say.
 */
async function checkUploads(
	db: D1Database,
	tenantId: string,
	inputs: readonly RequestedInput[],
): Promise<{ problem: ApiError | null; pixels: number }> {
	const uploadIds = inputs.flatMap(({ input }) => (input.upload_id === undefined ? [] : [input.upload_id]));
	const uploads = await findUploads(db, tenantId, [...new Set(uploadIds)]);
	const pixels = Math.max(0, ...[...uploads.values()].map(({ raster }) => raster.width * raster.height));
	const unknown: FieldError[] = [];
	const badBands: FieldError[] = [];
	for (const { path, input } of inputs) {
		if (input.upload_id === undefined) continue;
		const upload = uploads.get(input.upload_id);
		if (!upload) unknown.push({ path: `${path}.upload_id`, message: `upload ${input.upload_id} does not exist` });
		else if (input.band > upload.raster.bands) {
			badBands.push({
				path: `${path}.band`,
				message: `upload ${input.upload_id} has ${upload.raster.bands} band${upload.raster.bands === 1 ? "" : "s"}`,
			});
		}
	}
	if (unknown.length > 0) {
		const problem = new ApiError("unknown-upload", unknown.map((error) => error.message).join("; "), {
			errors: unknown,
		});
		return { problem, pixels };
	}
	if (badBands.length > 0) {
		const problem = new ApiError(
			"invalid-inputs",
			badBands.map((error) => `${error.path}: ${error.message}`).join("; "),
			{ errors: badBands },
		);
		return { problem, pixels };
	}
	return { problem: null, pixels };
}

/** Remote inputs name hosts the operator allows (REMOTE_ALLOWED_HOSTS), when it names any. */
function checkOperatorAllowlist(env: Env, inputs: readonly RequestedInput[]): ApiError | null {
	const allowlist = operatorAllowlist(env);
	if (!allowlist) return null;
	const errors: FieldError[] = [];
	for (const { path, input } of inputs) {
		if (input.href === undefined) continue;
		const refused = remoteUrlRefusal(new URL(input.href), [allowlist]);
		if (refused) errors.push({ path: `${path}.href`, message: refused });
	}
	if (errors.length === 0) return null;
	return new ApiError("validation-failed", errors.map((error) => `${error.path}: ${error.message}`).join("; "), {
		errors,
	});
}

export function registerCreateJob(app: App): void {
	app.openapi(createJobRoute, async function createJob(c) {
		const request = c.req.valid("json");
		const { tenantId, quotas } = c.get("principal");
		const { traceId, spanId, parentSpanId } = c.get("trace");
		const spans = { parentSpanId, requestSpanId: spanId, requestStartedAt: c.get("requestStartedAt") };
		const idempotencyKey = readIdempotencyKey(c.req.header("idempotency-key"));
		const requestHash = await sha256Hex(canonicalJson(request));
		let held: HeldClaim | null = null;
		if (idempotencyKey) {
			const scope = { db: c.env.DB, tenantId, operation: "createJob" as const, key: idempotencyKey };
			const outcome = await claim(scope, requestHash);
			if ("earlier" in outcome) {
				const replay = replayFor(scope, outcome.earlier, requestHash);
				if ("response" in replay) {
					return c.json(replay.response.body as z.infer<typeof JobSchema>, 202, replayHeaders(replay.response));
				}
				// The first request recorded the job, then failed before it could answer: this is its answer.
				const job = await getTenantJob(c.env.DB, tenantId, replay.resourceId);
				if (!job) throw new Error(`job ${replay.resourceId} is bound to an Idempotency-Key but not recorded`);
				const body = renderJob(job, await listArtifacts(c.env.DB, tenantId, job.id));
				return c.json(body, 202, replayHeaders({ status: 202, body, location: `/v1/jobs/${job.id}` }));
			}
			held = outcome.held;
		}
		let job: JobRecord;
		const jobId = newJobId();
		try {
			const { jobRequest, prepared } = await checkRequest(c.env, tenantId, jobId, request, quotas);
			jobRequest.base_url = publicBaseUrl(c.env.PUBLIC_BASE_URL, c.req.url);
			const submission = { jobId, tenantId, traceId, spans, process: request.process, jobRequest, ...prepared };
			job = await admit(c.env.DB, submission, quotas, held);
		} catch (error) {
			if (held) await release(held);
			await c.env.BUCKET.delete(objectKeys.jobZones(jobId));
			throw error;
		}
		// The job exists and is bound to the key: from here a failure never gives the key back.
		await enqueue(c.env, job);
		const body = renderJob(job, []);
		const location = `/v1/jobs/${job.id}`;
		if (held) await remember(held, requestHash, { status: 202, body, location });
		return c.json(body, 202, { Location: location });
	});
}

/**
 * The request's formula compiled, and the request checked against the tenant's uploads, field
 * sets and quotas; a collection of fields sent inline is stored with the job.
 */
async function checkRequest(
	env: Env,
	tenantId: string,
	jobId: string,
	request: CreateJob,
	quotas: TenantQuotas,
): Promise<{ jobRequest: JobRequest; prepared: ReturnType<ProcessRequest["prepare"]> }> {
	const dates = request.dates?.map((date) => ({
		datetime: date.datetime,
		inputs: inputRequests(date.inputs),
		...(date.mask ? { mask: date.mask } : {}),
	}));
	// A time series' inputs are the job's under `<date>/<name>`, as its stages read them.
	const inputs = dates
		? Object.fromEntries(
				dates.flatMap((date, i) =>
					Object.entries(date.inputs).map(([name, input]) => [datedInputName(i, name), input]),
				),
			)
		: inputRequests(request.inputs ?? {});
	const jobRequest: JobRequest = {
		index: request.index,
		expression: request.expression,
		constants: request.constants,
		inputs,
		nodata: request.nodata,
		datetime: request.datetime,
		remote: request.remote,
		histogram: request.histogram,
		mask: request.mask,
		output: request.output,
		grid: request.grid,
		aoi: request.aoi,
		coverage: request.coverage,
		percentiles: request.percentiles,
		min_valid_fraction: request.min_valid_fraction,
		dates,
	};
	const prepared = processRequests[request.process].prepare(jobRequest);
	const requested = requestInputs(request);
	const hostError = checkOperatorAllowlist(env, requested);
	if (hostError) throw hostError;
	const uploads = await checkUploads(env.DB, tenantId, requested);
	if (uploads.problem) throw uploads.problem;
	// The quota counts the output's pixels: with an AOI, another input's grid or fields only
	// validate knows them, and checks them there.
	const overQuota = request.aoi || request.grid || request.zones ? null : pixelQuotaProblem(uploads.pixels, quotas);
	if (overQuota) throw overQuota;
	if (request.zones) {
		const { zones, features } = await storedZones(env, tenantId, jobId, request.zones);
		jobRequest.zones = zones;
		const fieldDates = features * (dates?.length ?? 1);
		if (fieldDates > MAX_FIELD_DATES) {
			const message = `${features} fields on ${dates?.length ?? 1} dates make ${fieldDates} statistics; a job computes at most ${MAX_FIELD_DATES}`;
			throw new ApiError("validation-failed", message, { errors: [{ path: "zones", message }] });
		}
	}
	return { jobRequest, prepared };
}

/**
 * The job's own copy of its fields, kept with it, so deleting a field set later changes nothing
 * the job reads: a field set of the tenant's, or the collection sent inline, checked as POST
 * /v1/fields checks it.
 */
async function storedZones(
	env: Env,
	tenantId: string,
	jobId: string,
	zones: NonNullable<CreateJob["zones"]>,
): Promise<{ zones: NonNullable<JobRequest["zones"]>; features: number }> {
	const objectKey = objectKeys.jobZones(jobId);
	const inline =
		typeof zones === "object" && zones !== null && (zones as { type?: unknown }).type === "FeatureCollection";
	if (!inline && typeof zones === "object" && zones !== null && "field_set_id" in zones) {
		const id = zones.field_set_id;
		// The schema takes any collection, so a malformed id reaches here rather than failing its own branch.
		if (typeof id !== "string" || !FIELD_SET_ID_PATTERN.test(id)) {
			throw new ApiError(
				"validation-failed",
				"zones.field_set_id: must be a field set id (fld_ followed by 24 hex digits)",
				{
					errors: [{ path: "zones.field_set_id", message: "must be a field set id (fld_ followed by 24 hex digits)" }],
				},
			);
		}
		const fieldSet = await findFieldSet(env.DB, tenantId, id);
		if (!fieldSet || !(await copyFieldCollection(env.BUCKET, fieldSet.objectKey, objectKey))) {
			throw new ApiError("invalid-inputs", `field set ${id} does not exist`, {
				errors: [{ path: "zones.field_set_id", message: `field set ${id} does not exist` }],
			});
		}
		return { zones: { field_set_id: fieldSet.id, object_key: objectKey }, features: fieldSet.features };
	}
	const checked = checkFieldCollection(zones, fieldLimits(env), "zones");
	if (checked instanceof ApiError) throw checked;
	await writeFieldCollection(env.BUCKET, objectKey, JSON.stringify(zones));
	return { zones: { object_key: objectKey }, features: checked.features.length };
}

/**
 * Records the job if the tenant has a job slot free (and the claim on its Idempotency-Key still
 * holds); the insert itself checks both, so simultaneous submissions never overrun the quota.
 */
async function admit(
	db: D1Database,
	submission: {
		jobId: string;
		tenantId: string;
		traceId: string;
		spans: JobSpans;
		process: string;
		jobRequest: JobRequest;
		indexId: string | null;
		formula: unknown;
	},
	quotas: TenantQuotas,
	held: HeldClaim | null,
): Promise<JobRecord> {
	const { jobId, tenantId, traceId, spans, process, jobRequest, indexId, formula } = submission;
	const job = { id: jobId, tenantId, process, indexId, formula, request: jobRequest, traceId, spans };
	const admission = await admitJob(db, job, quotas.maxConcurrentJobs, held);
	if ("job" in admission) return admission.job;
	if (admission.refused === "claim") {
		throw new ApiError(
			"idempotency-key-reused",
			`This request's hold on its Idempotency-Key lapsed and a retry with the same key took it over; that retry answers for the key.`,
		);
	}
	throw new ApiError(
		"quota-exceeded",
		`This tenant already has ${quotas.maxConcurrentJobs} jobs queued or running; at most ${quotas.maxConcurrentJobs} may run at once.`,
		{ headers: { "Retry-After": String(CONCURRENCY_RETRY_AFTER_SECONDS) } },
	);
}

/** Hands the job to ingest; a job that cannot be queued ends failed, never stuck. */
async function enqueue(env: Env, job: JobRecord): Promise<void> {
	try {
		await sendToStage(env, "ingest", { job_id: job.id, trace_id: job.traceId });
	} catch (error) {
		await failJob(env.DB, job.id, jobProblem(error, job.id, job.traceId));
		throw error;
	}
	try {
		// The first row of the job's log, and the end of the request's span in its trace.
		if (job.spans)
			await insertJobLog(env.DB, {
				jobId: job.id,
				level: "info",
				stage: "ingest",
				code: "queued",
				message: "queued: waiting for ingest to start",
				traceId: job.traceId,
				spanId: job.spans.requestSpanId,
			});
	} catch (error) {
		log.warn("job_log_not_recorded", { trace_id: job.traceId, job_id: job.id, ...describeError(error) });
	}
	log.info("job_created", {
		trace_id: job.traceId,
		job_id: job.id,
		stage: "ingest",
		process: job.process,
		index: job.indexId,
	});
}
