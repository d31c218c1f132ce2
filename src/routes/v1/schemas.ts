/** Resource schemas shared by several operations, and the functions that render them. */

import { z } from "@hono/zod-openapi";
import type { ArtifactRecord } from "../../db/artifacts";
import type { FieldSetRecord } from "../../db/field-sets";
import { isTerminal, type JobRecord, type JobRequest } from "../../db/jobs";
import type { UploadPartRecord, UploadSessionRecord } from "../../db/upload-sessions";
import type { UploadRecord } from "../../db/uploads";
import { ProblemSchema } from "../../errors/openapi";
import { jobFormula } from "../../indices/formula";
import type { IndexDefinition } from "../../indices/registry";
import { jobPlan, planPixels } from "../../pipeline/plan";
import { stageNames } from "../../pipeline/stages";
import { type JobWarning, JobWarningSchema } from "../../processes/index/statistics";
import { COVERAGE_RULES, DEFAULT_PERCENTILES } from "../../processes/zonal/request";
import { JobNotifySchema } from "./webhook-schemas";

export const JobIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Job id; an id that names no job answers 404",
		example: "job_0123456789abcdef01234567",
	}),
});

export const IdempotencyKeyHeader = z.object({
	"idempotency-key": z
		.string()
		.optional()
		.openapi({
			param: { name: "idempotency-key", in: "header" },
			description:
				"Makes the request safe to retry: the same key and request within 24 h give the first response again",
			example: "5f0c6a2e-8d3b-4b8e-9a55-7f1d2c3b4a59",
		}),
});

export const RasterSummarySchema = z
	.object({
		width: z.number().int().openapi({ example: 256 }),
		height: z.number().int().openapi({ example: 256 }),
		bands: z.number().int().openapi({ example: 1 }),
		data_type: z.string().openapi({ example: "UInt16", description: "GDAL name of the sample type" }),
		nodata: z.number().nullable().openapi({ example: 0, description: "GDAL_NODATA of the file, if any" }),
		block_width: z.number().int().openapi({ example: 128 }),
		block_height: z.number().int().openapi({ example: 128 }),
		epsg: z.number().int().nullable().openapi({ example: 32633 }),
	})
	.openapi("RasterSummary");

export const UploadSchema = z
	.object({
		id: z.string().openapi({ example: "upl_0123456789abcdef01234567" }),
		bytes: z.number().int().openapi({ example: 95855 }),
		created_at: z.iso.datetime().openapi({ example: "2026-11-25T12:00:00.000Z" }),
		raster: RasterSummarySchema,
	})
	.openapi("Upload");

export const UploadIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Upload id; an id that names no upload answers 404",
		example: "upl_0123456789abcdef01234567",
	}),
});

export const UploadPartSchema = z
	.object({
		number: z.number().int().min(1).openapi({ example: 1 }),
		bytes: z.number().int().openapi({ description: "Exact size this part must have", example: 16777216 }),
		href: z.string().openapi({
			description: "PUT the part's bytes here",
			example: "/v1/uploads/upl_0123456789abcdef01234567/parts/1",
		}),
		received: z.boolean().openapi({ example: false }),
	})
	.openapi("UploadPart");

export const UploadSessionSchema = z
	.object({
		id: z.string().openapi({ description: "The upload's id, once complete", example: "upl_0123456789abcdef01234567" }),
		status: z.enum(["open", "completed", "aborted"]).openapi({ example: "open" }),
		bytes: z.number().int().openapi({ example: 25165824 }),
		part_bytes: z
			.number()
			.int()
			.openapi({ description: "Size of every part but the last, which holds the rest", example: 16777216 }),
		created_at: z.iso.datetime().openapi({ example: "2026-11-25T12:00:00.000Z" }),
		expires_at: z.iso.datetime().openapi({
			description:
				"Complete the upload before this (24 h after it was opened): after it the session takes no parts, its declared bytes stop counting against the daily quota, and its parts are discarded",
			example: "2026-11-26T12:00:00.000Z",
		}),
		parts: z.array(UploadPartSchema),
		complete_href: z.string().openapi({ example: "/v1/uploads/upl_0123456789abcdef01234567/complete" }),
		abort_href: z.string().openapi({ example: "/v1/uploads/upl_0123456789abcdef01234567/abort" }),
	})
	.openapi("UploadSession");

export const FieldSetSchema = z
	.object({
		id: z.string().openapi({ example: "fld_0123456789abcdef01234567" }),
		features: z.number().int().openapi({ description: "Features in the collection", example: 2 }),
		bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]).openapi({
			description: "[west, south, east, north] in longitude/latitude",
			example: [16.3432, 47.8297, 16.371, 47.8385],
		}),
		created_at: z.iso.datetime().openapi({ example: "2026-11-25T12:00:00.000Z" }),
	})
	.openapi("FieldSet");

export const FieldSetIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Field set id; an id that names no field set answers 404",
		example: "fld_0123456789abcdef01234567",
	}),
});

export function renderFieldSet(fieldSet: FieldSetRecord): z.infer<typeof FieldSetSchema> {
	return { id: fieldSet.id, features: fieldSet.features, bbox: fieldSet.bbox, created_at: fieldSet.createdAt };
}

export const ArtifactSchema = z
	.object({
		name: z.string().openapi({ example: "result.tif" }),
		media_type: z.string().openapi({ example: "image/tiff; application=geotiff" }),
		bytes: z.number().int().openapi({ example: 262400 }),
		href: z.string().openapi({ example: "/v1/jobs/job_0123456789abcdef01234567/artifacts/result.tif" }),
	})
	.openapi("Artifact");

export const JobStatusSchema = z.enum(["queued", "running", "succeeded", "failed", "canceled"]).openapi("JobStatus");
export const StageSchema = z.enum(stageNames as [string, ...string[]]).openapi("Stage");

const ValueSourceSchema = z.enum(["request", "item", "default"]).openapi("InputValueSource");

export const JobInputSummarySchema = z
	.object({
		upload_id: z.string().optional().openapi({ example: "upl_0123456789abcdef01234567" }),
		href: z.string().optional().openapi({ example: "https://example.com/S2B_33UUP_20240612_0_L2A/B04.tif" }),
		band: z.number().int().openapi({ example: 1 }),
		scale: z.number().openapi({ example: 0.0001 }),
		offset: z.number().openapi({ example: -0.1 }),
		nodata: z.number().optional().openapi({
			description:
				"The nodata applied to this input, when the request or its STAC item set one (else the job's or the file's)",
			example: 0,
		}),
		stac: z
			.object({
				item: z.string().openapi({
					description: "The STAC Item's URL",
					example:
						"https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20240612_0_L2A",
				}),
				asset: z.string().openapi({ description: "The asset's key", example: "red" }),
			})
			.optional()
			.openapi("JobInputStac", { description: "The STAC Item and asset the input's href was resolved from" }),
		sources: z
			.object({
				band: ValueSourceSchema,
				scale: ValueSourceSchema,
				offset: ValueSourceSchema,
				nodata: ValueSourceSchema,
			})
			.optional()
			.openapi("JobInputSources", {
				description:
					"Where each value came from: `request`, the STAC `item` (its bands' scale, offset, nodata; the band of the common name) or the `default` (band 1, scale 1, offset 0, nodata unset)",
			}),
	})
	.openapi("JobInputSummary");

export const JobSchema = z
	.object({
		id: z.string().openapi({ example: "job_0123456789abcdef01234567" }),
		status: JobStatusSchema,
		// A union, not .nullable(): nullable would make the shared Stage and Problem components nullable everywhere.
		stage: z
			.union([StageSchema, z.null()])
			.openapi({ description: "The stage the job is in, or the last it reached once it has ended; null while queued" }),
		progress: z.number().min(0).max(1).openapi({ example: 0.5 }),
		process: z
			.string()
			.openapi({ description: "The process the job runs (POST /v1/jobs `process`)", example: "index" }),
		index: z.string().openapi({
			description:
				"The catalog index id, `expression` for a job of a custom expression, or the process's name for a process that evaluates no formula",
			example: "NDVI",
		}),
		expression: z.string().nullable().openapi({
			description: "The formula compiled, over the input and constant names",
			example: "(nir - red)/(nir + red)",
		}),
		constants: z
			.record(z.string(), z.number())
			.openapi({ description: "The constants' values as applied", example: { L: 0.5 } }),
		inputs: z.record(z.string(), JobInputSummarySchema).openapi({
			description:
				"Each input with the scale and offset applied (value = sample * scale + offset); empty for a time series, whose inputs are its dates', and until ingest has resolved a job's STAC items or search",
		}),
		zones: z
			.strictObject({
				field_set_id: z.string().nullable().openapi({
					description: "The field set the job read, or null for fields sent inline",
					example: "fld_0123456789abcdef01234567",
				}),
				coverage: z.enum(COVERAGE_RULES),
				percentiles: z.array(z.number()).openapi({ example: [2, 50, 98] }),
				min_valid_fraction: z.number(),
			})
			.optional()
			.openapi("JobZones", { description: "A zonal_statistics job's fields and how they are weighed" }),
		dates: z
			.array(
				z
					.strictObject({
						datetime: z.iso.datetime({ offset: true }),
						inputs: z.record(z.string(), JobInputSummarySchema),
					})
					.openapi("JobDate"),
			)
			.optional()
			.openapi({ description: "A time series' dates, each with its inputs as applied" }),
		notify: JobNotifySchema.optional().openapi({
			description: "The webhook endpoints the job named (POST /v1/jobs `notify`); absent, every subscribed endpoint",
		}),
		trace_id: z.string().openapi({
			description:
				"The trace the job runs under (W3C Trace Context): its log rows, events, problems and GET /v1/jobs/{id}/trace carry it",
			example: "4bf92f3577b34da6a3ce929d0e0e4736",
		}),
		usage: z
			.object({
				wall_ms: z.number().int().openapi({
					description: "From the request that created the job to its end, or to now while it is queued or running",
					example: 2140,
				}),
				invocations: z.number().int().openapi({
					description: "Stage invocations (queue deliveries, retries included) settled so far",
					example: 9,
				}),
				bytes_read_uploads: z
					.number()
					.int()
					.openapi({ description: "Bytes read from the tenant's uploads", example: 4_194_304 }),
				bytes_read_remote: z.number().int().openapi({
					description: "Bytes fetched from remote inputs (what REMOTE_MAX_BYTES_PER_JOB bounds)",
					example: 0,
				}),
				bytes_written: z
					.number()
					.int()
					.openapi({ description: "Bytes written to storage: intermediate objects and artifacts", example: 3_145_728 }),
				pixels: z.number().int().nullable().openapi({
					description: "The pixels the job computes (what the pixel quota counts), known once validate has planned it",
					example: 1_048_576,
				}),
			})
			.openapi("JobUsage", {
				description:
					"What the job has used, growing while it runs. CPU time is not included: a Worker's clocks do not advance while it computes, and the platform reports CPU time only to a Tail Worker, which this deployment does not run (see docs/observability.md)",
			}),
		created_at: z.iso.datetime(),
		updated_at: z.iso.datetime(),
		error: z.union([ProblemSchema, z.null()]).openapi({ description: "Why the job failed; null unless it failed" }),
		warnings: z.array(JobWarningSchema).openapi({
			description: "What its result looks wrong for (as in stats.json), known once it has succeeded; empty until then",
		}),
		artifacts: z.array(ArtifactSchema),
	})
	.openapi("Job");

export function renderUpload(upload: UploadRecord): z.infer<typeof UploadSchema> {
	return { id: upload.id, bytes: upload.bytes, created_at: upload.createdAt, raster: upload.raster };
}

function inputSummaries(inputs: JobRequest["inputs"]): z.infer<typeof JobSchema>["inputs"] {
	return Object.fromEntries(
		Object.entries(inputs).map(([name, input]) => [
			name,
			{
				...(input.upload_id === undefined ? { href: input.href } : { upload_id: input.upload_id }),
				band: input.band,
				scale: input.scale,
				offset: input.offset,
				...(input.nodata === undefined ? {} : { nodata: input.nodata }),
				...(input.stac ? { stac: input.stac } : {}),
				...(input.sources ? { sources: input.sources } : {}),
			},
		]),
	);
}

function jobUsage(job: JobRecord): z.infer<typeof JobSchema>["usage"] {
	const started = Date.parse(job.spans?.requestStartedAt ?? job.createdAt);
	const ended = isTerminal(job.status) ? Date.parse(job.updatedAt) : Date.now();
	const plan = jobPlan(job);
	return {
		wall_ms: Math.max(0, ended - started),
		invocations: job.usage.invocations,
		bytes_read_uploads: job.usage.bytesReadUploads,
		bytes_read_remote: job.usage.bytesReadRemote,
		bytes_written: job.usage.bytesWritten,
		pixels: plan ? planPixels(plan) : null,
	};
}

export function renderJob(job: JobRecord, artifacts: readonly ArtifactRecord[]): z.infer<typeof JobSchema> {
	const formula = jobFormula(job);
	return {
		id: job.id,
		status: job.status,
		stage: job.stage,
		progress: job.progress,
		process: job.process,
		index: job.indexId ?? job.process,
		expression: formula?.expression ?? null,
		constants: formula?.constants ?? {},
		inputs: job.request.dates ? {} : inputSummaries(job.request.inputs),
		...(job.request.zones
			? {
					zones: {
						field_set_id: job.request.zones.field_set_id ?? null,
						coverage: job.request.coverage ?? "fraction",
						percentiles: job.request.percentiles ?? DEFAULT_PERCENTILES,
						min_valid_fraction: job.request.min_valid_fraction ?? 0,
					},
				}
			: {}),
		...(job.request.dates
			? {
					dates: job.request.dates.map((date) => ({
						datetime: date.datetime,
						inputs: inputSummaries(date.inputs),
					})),
				}
			: {}),
		...(job.request.notify ? { notify: job.request.notify } : {}),
		trace_id: job.traceId,
		usage: jobUsage(job),
		created_at: job.createdAt,
		updated_at: job.updatedAt,
		error: job.error,
		warnings: job.warnings.map((warning) => ({
			code: warning.code as JobWarning["code"],
			...(warning.input === undefined ? {} : { input: warning.input }),
			message: warning.message,
		})),
		artifacts: artifacts.map((artifact) => ({
			name: artifact.name,
			media_type: artifact.mediaType,
			bytes: artifact.bytes,
			href: `/v1/jobs/${job.id}/artifacts/${artifact.name}`,
		})),
	};
}

export const IndexSchema = z
	.object({
		id: z.string().openapi({ description: "The catalog's short name; matched case-insensitively", example: "NDVI" }),
		name: z.string().openapi({ example: "Normalized Difference Vegetation Index" }),
		formula: z.string().openapi({
			description: "Over the input bands (STAC common names) and the constants",
			example: "(nir - red)/(nir + red)",
		}),
		bands: z
			.array(z.string())
			.openapi({ description: "The inputs a job must give, as STAC common names", example: ["nir", "red"] }),
		constants: z
			.array(
				z
					.object({
						name: z.string().openapi({ example: "L" }),
						default: z.number().nullable().openapi({ description: "null: a job must give the value", example: 0.5 }),
						description: z.string().openapi({ example: "Canopy background adjustment" }),
					})
					.openapi("IndexConstant"),
			)
			.openapi({ description: "Constants a job may override with `constants`" }),
		domain: z.string().openapi({ example: "vegetation" }),
		reference: z.string().openapi({ example: "https://ntrs.nasa.gov/citations/19740022614" }),
		platforms: z.array(z.string()).openapi({ example: ["Sentinel-2", "Landsat-OLI"] }),
	})
	.openapi("Index");

export function renderIndex(index: IndexDefinition): z.infer<typeof IndexSchema> {
	return {
		id: index.id,
		name: index.name,
		formula: index.formula,
		bands: [...index.bands],
		constants: index.constants.map((constant) => ({ ...constant })),
		domain: index.domain,
		reference: index.reference,
		platforms: [...index.platforms],
	};
}

/** Bytes part `number` (1-based) of a session must have: the part size, or the rest for the last. */
export function partSize(session: Pick<UploadSessionRecord, "bytes" | "partBytes">, number: number): number {
	return Math.min(session.partBytes, session.bytes - (number - 1) * session.partBytes);
}

export function partCount(session: Pick<UploadSessionRecord, "bytes" | "partBytes">): number {
	return Math.ceil(session.bytes / session.partBytes);
}

export function renderUploadSession(
	session: UploadSessionRecord,
	received: readonly UploadPartRecord[],
): z.infer<typeof UploadSessionSchema> {
	const have = new Set(received.map((part) => part.number));
	const base = `/v1/uploads/${session.id}`;
	return {
		id: session.id,
		status: session.status,
		bytes: session.bytes,
		part_bytes: session.partBytes,
		created_at: session.createdAt,
		expires_at: session.expiresAt,
		parts: Array.from({ length: partCount(session) }, (_, i) => ({
			number: i + 1,
			bytes: partSize(session, i + 1),
			href: `${base}/parts/${i + 1}`,
			received: have.has(i + 1),
		})),
		complete_href: `${base}/complete`,
		abort_href: `${base}/abort`,
	};
}
