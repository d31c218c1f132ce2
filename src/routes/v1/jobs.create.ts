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
import { admitJob, failJob, getTenantJob, type JobRecord, type JobRequest, type JobSpans } from "../../db/jobs";
import { findUploads } from "../../db/uploads";
import { enabledWebhookIds } from "../../db/webhooks";
import { ApiError, type FieldError, fieldPath, jobProblem } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses, responseHeaders } from "../../errors/openapi";
import { checkFieldCollection, fieldLimits } from "../../fields/collection";
import { FIELD_SET_ID_PATTERN, newJobId, sha256Hex } from "../../ids";
import { recordJobLog } from "../../observability/job-log";
import { log } from "../../observability/log";
import { sendToStage } from "../../pipeline/send";
import { inputRequests, type JobInput, JobInputSchema, storedInputs } from "../../processes/inputs";
import {
	type ProcessRequest,
	processNames,
	processRequestFields,
	processRequestIssues,
	processRequests,
} from "../../processes/requests";
import { MAX_FIELD_DATES } from "../../processes/zonal/request";
import { loopbackAllowed, operatorAllowlist, remoteHref, remoteUrlRefusal } from "../../raster/remote";
import { publicBaseUrl } from "../../stac/item";
import { effectiveSources, stacPlacementIssues, usesStac } from "../../stac/request";
import { copyFieldCollection, writeFieldCollection } from "../../storage/field-collections";
import { objectKeys } from "../../storage/keys";
import { sendOwedWebhooks } from "../../webhooks/outbox";
import { fieldBodyLimit } from "./body-limit";
import { createJobExample, queuedJobExample } from "./examples";
import { IdempotencyKeyHeader, JobSchema, renderJob } from "./schemas";
import { JobNotifySchema } from "./webhook-schemas";

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
					"The only hosts this job's href inputs and STAC items and searches, and every redirect they take, may reach; `*.example.com` matches its subdomains",
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
		stac_item: remoteHref.optional().openapi({
			description:
				"HTTPS URL of a STAC Item whose assets are the job's inputs: the formula's bands (and the mask's input) by band common name or asset key, with the item's scale, offset and nodata; `inputs` need only name extra assets or override values",
			example: "https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20240612_0_L2A",
		}),
		inputs: z
			.record(z.string(), JobInputSchema)
			.optional()
			.openapi({
				description:
					"One entry per band: for an index keyed by STAC common name (red, nir, swir16, …), for an expression by the names it uses. A zonal_statistics time series gives `dates` (or `stac_search`) instead; with `stac_item` or `stac_search`, only extra assets and overrides",
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
		notify: JobNotifySchema.optional(),
		datetime: z.iso.datetime({ offset: true }).optional().openapi({
			description:
				"When the inputs' scene was acquired (RFC 3339): the `datetime` of the result's STAC Item (item.json), which otherwise is the job's creation time. A zonal_statistics time series gives each date's instead (dates[].datetime)",
			example: "2026-05-04T10:20:31Z",
		}),
	})
	.superRefine((request, context) => {
		const allowed = request.remote?.allowed_hosts;
		if (!allowed) return;
		for (const { segments, url } of requestUrls(request)) {
			// Loopback URLs are decided where the env is known (checkUrls).
			const refused = remoteUrlRefusal(new URL(url), { allowlists: [allowed], allowLoopback: true });
			if (refused) context.addIssue({ code: "custom", path: segments, message: refused });
		}
	})
	.superRefine((request, context) => {
		for (const issue of stacPlacementIssues(request)) context.addIssue({ code: "custom", ...issue });
		// The process checks the names an item supplies as if the request had listed them.
		const named = { ...request, ...effectiveSources(request) };
		for (const issue of processRequestIssues(request.process, named)) context.addIssue({ code: "custom", ...issue });
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
	input: Pick<JobInput, "upload_id" | "href" | "stac_item" | "band">;
}

/** Every input of a request: its own, or each date's. */
function requestInputs(request: Pick<CreateJob, "inputs" | "dates">): RequestedInput[] {
	const named = (inputs: Record<string, JobInput> = {}, date: number | null) =>
		Object.entries(inputs).map(([name, input]) => {
			const segments = [...(date === null ? [] : ["dates", date]), "inputs", name];
			return { path: fieldPath(segments), segments, input };
		});
	return [...named(request.inputs ?? {}, null), ...(request.dates ?? []).flatMap((date, i) => named(date.inputs, i))];
}

/** Every URL a request asks EO Edge to fetch, with where it stands: hrefs, STAC items and the search. */
function requestUrls(
	request: Pick<CreateJob, "inputs" | "dates" | "stac_item" | "stac_search">,
): { path: string; segments: (string | number)[]; url: string }[] {
	const urls: { path: string; segments: (string | number)[]; url: string }[] = [];
	const add = (segments: (string | number)[], url: string | undefined) => {
		if (url === undefined) return;
		urls.push({ path: fieldPath(segments), segments, url });
	};
	for (const { segments, input } of requestInputs(request)) {
		add([...segments, "href"], input.href);
		add([...segments, "stac_item"], input.stac_item);
	}
	add(["stac_item"], request.stac_item);
	request.dates?.forEach((date, i) => {
		add(["dates", i, "stac_item"], date.stac_item);
	});
	add(["stac_search", "url"], request.stac_search?.url);
	return urls;
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
		else if ((input.band ?? 1) > upload.raster.bands) {
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

/**
 * The request's URLs name hosts the operator allows (REMOTE_ALLOWED_HOSTS, when it names any),
 * and loopback only under ALLOW_LOOPBACK_URLS.
 */
function checkUrls(env: Env, request: CreateJob): ApiError | null {
	const operator = operatorAllowlist(env);
	const access = { allowlists: operator ? [operator] : [], allowLoopback: loopbackAllowed(env) };
	const errors: FieldError[] = [];
	for (const { path, url } of requestUrls(request)) {
		const refused = remoteUrlRefusal(new URL(url), access);
		if (refused) errors.push({ path, message: refused });
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
	const stac = usesStac(request) ? effectiveSources(request) : null;
	// STAC sources are kept as given for ingest to resolve; other inputs are stored as they run.
	const concrete = stac
		? { inputs: {}, dates: undefined }
		: storedInputs(
				inputRequests(request.inputs ?? {}),
				request.dates?.map((date) => ({
					datetime: date.datetime as string,
					inputs: inputRequests(date.inputs ?? {}),
					...(date.mask ? { mask: date.mask } : {}),
				})),
			);
	const jobRequest: JobRequest = {
		index: request.index,
		expression: request.expression,
		constants: request.constants,
		...concrete,
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
		...(stac
			? {
					stac: {
						item: request.stac_item,
						search: request.stac_search,
						...(stac.inputs ? { inputs: stac.inputs } : {}),
						...(stac.dates ? { dates: stac.dates } : {}),
					},
				}
			: {}),
	};
	// The formula is compiled against the names the job's inputs will have once resolved.
	const named = (inputs: Record<string, unknown> | undefined) =>
		Object.fromEntries(Object.keys(inputs ?? {}).map((name) => [name, {}])) as JobRequest["inputs"];
	const prepared = processRequests[request.process].prepare(
		stac
			? {
					...jobRequest,
					inputs: named(stac.inputs),
					dates: stac.dates?.map((date) => ({
						datetime: date.datetime ?? "",
						inputs: named(date.inputs),
						mask: date.mask,
					})),
				}
			: jobRequest,
	);
	const hostError = checkUrls(env, request);
	if (hostError) throw hostError;
	if (request.notify) {
		await checkNotify(env.DB, tenantId, request.notify.webhook_ids);
		jobRequest.notify = { webhook_ids: [...new Set(request.notify.webhook_ids)] };
	}
	const dates = request.dates;
	const uploads = await checkUploads(env.DB, tenantId, requestInputs(request));
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

/** A 422 naming each of `ids` that is not one of the tenant's enabled webhook endpoints. */
async function checkNotify(db: D1Database, tenantId: string, ids: readonly string[]): Promise<void> {
	const enabled = await enabledWebhookIds(db, tenantId, ids);
	const errors = ids.flatMap((id, index) =>
		enabled.has(id)
			? []
			: [{ path: `notify.webhook_ids[${index}]`, message: `webhook ${id} does not exist or is disabled` }],
	);
	if (errors.length > 0) {
		throw new ApiError("validation-failed", errors.map((error) => `${error.path}: ${error.message}`).join("; "), {
			errors,
		});
	}
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
			throw new ApiError("unknown-field-set", `field set ${id} does not exist`, {
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
		if (await failJob(env.DB, job.id, jobProblem(error, job.id, job.traceId))) {
			await sendOwedWebhooks(env, job.id, job.traceId);
		}
		throw error;
	}
	// The first row of the job's log, and the end of the request's span in its trace.
	if (job.spans)
		await recordJobLog(env.DB, {
			jobId: job.id,
			level: "info",
			stage: "ingest",
			code: "queued",
			message: "queued: waiting for ingest to start",
			traceId: job.traceId,
			spanId: job.spans.requestSpanId,
		});
	log.info("job_created", {
		trace_id: job.traceId,
		job_id: job.id,
		stage: "ingest",
		process: job.process,
		index: job.indexId,
	});
}
