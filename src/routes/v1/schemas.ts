/** Resource schemas shared by several operations, and the functions that render them. */
import { z } from "@hono/zod-openapi";
import type { ArtifactRecord, JobRecord, UploadRecord } from "../../db/queries";
import { ProblemSchema } from "../../errors/openapi";
import { stageNames } from "../../pipeline/stages";

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

export const JobSchema = z
	.object({
		id: z.string().openapi({ example: "job_0123456789abcdef01234567" }),
		status: JobStatusSchema,
		// A union, not .nullable(): nullable would make the shared Stage and Problem components nullable everywhere.
		stage: z
			.union([StageSchema, z.null()])
			.openapi({ description: "The stage the job is in, or the last it reached once it has ended; null while queued" }),
		progress: z.number().min(0).max(1).openapi({ example: 0.5 }),
		index: z.string().openapi({ example: "ndvi" }),
		created_at: z.iso.datetime(),
		updated_at: z.iso.datetime(),
		error: z.union([ProblemSchema, z.null()]).openapi({ description: "Why the job failed; null unless it failed" }),
		artifacts: z.array(ArtifactSchema),
	})
	.openapi("Job");

export function renderUpload(upload: UploadRecord): z.infer<typeof UploadSchema> {
	return { id: upload.id, bytes: upload.bytes, created_at: upload.createdAt, raster: upload.raster };
}

export function renderJob(job: JobRecord, artifacts: readonly ArtifactRecord[]): z.infer<typeof JobSchema> {
	return {
		id: job.id,
		status: job.status,
		stage: job.stage,
		progress: job.progress,
		index: job.indexId,
		created_at: job.createdAt,
		updated_at: job.updatedAt,
		error: job.error,
		artifacts: artifacts.map((artifact) => ({
			name: artifact.name,
			media_type: artifact.mediaType,
			bytes: artifact.bytes,
			href: `/v1/jobs/${job.id}/artifacts/${artifact.name}`,
		})),
	};
}
