/**
 * GET /v1/jobs/{id}/artifacts/{name}: streams an artifact from R2. Range requests are honoured
 * so GIS clients (GDAL's /vsicurl/) can read result.tif in place. preview.png with `colormap`
 * or `rescale` is drawn anew from result.tif's overview instead.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { listArtifacts } from "../../db/artifacts";
import { getTenantJob, isTerminal } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses, responseHeaders } from "../../errors/openapi";
import { jobFormula } from "../../indices/formula";
import { colormapOf } from "../../indices/registry";
import { jobPlan } from "../../pipeline/plan";
import { RESULT_ARTIFACT } from "../../pipeline/store/result-upload";
import { colormapNames } from "../../preview/colormaps";
import { PREVIEW_ARTIFACT, renderPreview } from "../../preview/render";
import { StatisticsSchema } from "../../processes/index/statistics";
import { statisticsExample } from "./examples";
import { POLL_AFTER_SECONDS } from "./jobs.get";
import { JobIdParam } from "./schemas";

const NUMBER = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`;
const RESCALE_PATTERN = new RegExp(`^${NUMBER},${NUMBER}$`);

const PreviewQuery = z.object({
	colormap: z
		.enum(colormapNames)
		.optional()
		.openapi({
			param: { name: "colormap", in: "query" },
			description: `preview.png only: the colormap (default: the index's, rdylgn for vegetation indices, rdbu for water)`,
			example: "viridis",
		}),
	rescale: z
		.string()
		.regex(RESCALE_PATTERN, "must be two numbers, min,max")
		.refine((value) => {
			// A value that is not two numbers is reported by the pattern alone.
			if (!RESCALE_PATTERN.test(value)) return true;
			const [min = 0, max = 0] = value.split(",").map(Number);
			return min < max;
		}, "min must be less than max")
		.optional()
		.openapi({
			param: { name: "rescale", in: "query" },
			description:
				"preview.png only: the values drawn with the colormap's first and last colour, min,max (default: the index's range, -1,1 for NDVI and NDWI); values beyond are clamped",
			example: "0,0.8",
		}),
});

/**
 * The one byte range a `Range` header asks of a `size`-byte object (RFC 9110 14.1.2), or null
 * to send it whole: a header that is absent, malformed or lists several ranges is ignored.
 */
export function byteRange(
	header: string | undefined,
	size: number,
): { offset: number; length: number } | "unsatisfiable" | null {
	const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
	if (!match) return null;
	const [, first = "", last = ""] = match;
	if (first === "") {
		if (last === "") return null;
		const length = Math.min(Number(last), size);
		return length === 0 ? "unsatisfiable" : { offset: size - length, length };
	}
	const offset = Number(first);
	if (offset >= size) return "unsatisfiable";
	const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
	return end < offset ? null : { offset, length: end - offset + 1 };
}

const ArtifactBytes = z.string().openapi({ format: "binary" });
const artifactHeaders = responseHeaders("Content-Disposition", "Content-Length", "ETag", "Accept-Ranges");

export const getJobArtifactRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/artifacts/{name}",
	operationId: "getJobArtifact",
	tags: ["jobs"],
	summary: "Download a job artifact",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
	description:
		"Artifacts of a succeeded job. While the job is queued or running: 409 `job-not-finished` with Retry-After; a failed or canceled job: 409 `job-not-succeeded`; a name the job does not have: 404 listing the names it has. An index job's artifacts: result.tif (Cloud-Optimized GeoTIFF, float32, nodata NaN, with overviews), stats.json and preview.png (RGBA, at most 1024 px a side, nodata transparent; `colormap` and `rescale` redraw it). A zonal_statistics job's: zones.geojson (the fields with their statistics), zones.csv (a row per field and date) and zones.parquet (GeoParquet 1.1). Every succeeded job's: item.json (application/geo+json), a STAC 1.1 Item of the result whose assets are the other artifacts, with absolute hrefs, sizes and checksums.",
	request: {
		query: PreviewQuery,
		params: JobIdParam.extend({
			name: z
				.string()
				.min(1)
				.openapi({ param: { name: "name", in: "path" }, example: "result.tif" }),
		}),
	},
	responses: {
		200: {
			description: "The artifact",
			headers: { ...keyedHeaders, ...artifactHeaders },
			content: {
				"image/tiff": { schema: ArtifactBytes },
				"image/png": { schema: ArtifactBytes },
				"application/json": { schema: StatisticsSchema, example: statisticsExample },
				"application/geo+json": { schema: ArtifactBytes },
				"text/csv": { schema: ArtifactBytes },
				"application/vnd.apache.parquet": { schema: ArtifactBytes },
			},
		},
		206: {
			description: "The requested byte range of the artifact",
			headers: { ...keyedHeaders, ...artifactHeaders, ...responseHeaders("Content-Range") },
			// A range of any artifact is bytes, stats.json's too.
			content: {
				"image/tiff": { schema: ArtifactBytes },
				"image/png": { schema: ArtifactBytes },
				"application/json": { schema: ArtifactBytes },
				"application/geo+json": { schema: ArtifactBytes },
				"text/csv": { schema: ArtifactBytes },
				"application/vnd.apache.parquet": { schema: ArtifactBytes },
			},
		},
		...problemResponses(401, 403, 404, 409, 416, 422, 429),
	},
});

export function registerGetJobArtifact(app: App): void {
	app.openapi(getJobArtifactRoute, async function getJobArtifact(c) {
		const { id, name } = c.req.valid("param");
		const { colormap, rescale } = c.req.valid("query");
		const { tenantId } = c.get("principal");
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		if (!isTerminal(job.status)) {
			throw new ApiError(
				"job-not-finished",
				`Job ${id} is ${job.status}${job.stage ? ` (stage ${job.stage})` : ""}; its artifacts exist once it has succeeded.`,
				{ headers: { "Retry-After": POLL_AFTER_SECONDS } },
			);
		}
		if (job.status !== "succeeded") {
			const reason = job.error ? `: ${job.error.detail}` : "";
			throw new ApiError("job-not-succeeded", `Job ${id} ${job.status}${reason}. Only a succeeded job has artifacts.`);
		}
		const artifacts = await listArtifacts(c.env.DB, tenantId, id);
		const artifact = artifacts.find((candidate) => candidate.name === name);
		if (!artifact) {
			const names = artifacts.map((candidate) => candidate.name);
			throw new ApiError(
				"not-found",
				names.length > 0
					? `Job ${id} has no artifact named '${name}'; it has ${names.join(", ")}.`
					: `Job ${id} has no artifacts any more: they are deleted ${c.env.ARTIFACT_RETENTION_DAYS} days after the job ends.`,
				{
					errors: [
						{
							path: "param.name",
							message: names.length > 0 ? `must be one of ${names.join(", ")}` : "the job has no artifacts",
						},
					],
				},
			);
		}
		const restyled = colormap !== undefined || rescale !== undefined;
		if (restyled && name !== PREVIEW_ARTIFACT) {
			const parameter = colormap !== undefined ? "colormap" : "rescale";
			throw new ApiError("validation-failed", `query.${parameter}: only ${PREVIEW_ARTIFACT} can be restyled`, {
				errors: [{ path: `query.${parameter}`, message: `only ${PREVIEW_ARTIFACT} takes ${parameter}` }],
			});
		}
		const result = artifacts.find((candidate) => candidate.name === RESULT_ARTIFACT);
		const formula = jobFormula(job);
		const plan = jobPlan(job);
		if (restyled && result && formula && plan) {
			const { previewRange } = formula;
			const [min = previewRange.first, max = previewRange.last] = rescale?.split(",").map(Number) ?? [];
			const style = { colormap: colormap ?? colormapOf(formula.index), rescale: [min, max] as const };
			const png = await renderPreview(c.env, result, plan, style);
			return c.body(png as Uint8Array<ArrayBuffer>, 200, {
				"Content-Type": "image/png",
				"Content-Disposition": `inline; filename="${id}-${name}"`,
				"Content-Length": String(png.byteLength),
			});
		}
		const range = byteRange(c.req.header("range"), artifact.bytes);
		if (range === "unsatisfiable") {
			throw new ApiError(
				"range-not-satisfiable",
				`'${name}' has ${artifact.bytes} bytes; the range asks past its end.`,
				{
					headers: { "Content-Range": `bytes */${artifact.bytes}` },
				},
			);
		}
		const object = await c.env.BUCKET.get(artifact.objectKey, range ? { range } : {});
		if (!object) throw new Error(`artifact ${artifact.objectKey} is recorded but not stored`);
		const headers: Record<string, string> = {
			"Content-Type": artifact.mediaType,
			"Content-Disposition": `attachment; filename="${id}-${name}"`,
			"Accept-Ranges": "bytes",
			ETag: object.httpEtag,
			"Content-Length": String(object.size),
		};
		if (range) {
			headers["Content-Range"] = `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`;
			headers["Content-Length"] = String(range.length);
			return c.body(object.body, 206, headers);
		}
		return c.body(object.body, 200, headers);
	});
}
