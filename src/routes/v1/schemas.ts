/** Resource schemas shared by several operations, and the functions that render them. */
import { z } from "@hono/zod-openapi";
import type { ArtifactRecord, JobRecord, UploadPartRecord, UploadRecord, UploadSessionRecord } from "../../db/queries";
import { ProblemSchema } from "../../errors/openapi";
import { stageNames } from "../../pipeline/stages";

export const JobIdParam = z.object({
	id: z.string().openapi({
		param: { name: "id", in: "path" },
		description: "Job id; an id that names no job answers 404",
		example: "job_0123456789abcdef01234567",
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
		parts: z.array(UploadPartSchema),
		complete_href: z.string().openapi({ example: "/v1/uploads/upl_0123456789abcdef01234567/complete" }),
		abort_href: z.string().openapi({ example: "/v1/uploads/upl_0123456789abcdef01234567/abort" }),
	})
	.openapi("UploadSession");

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
