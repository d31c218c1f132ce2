/**
 * GET /v1/jobs/{id}/artifacts/{name}: streams an artifact from R2. Range requests are honoured
 * so GIS clients (GDAL's /vsicurl/) can read result.tif in place.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { getJob, listArtifacts } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import { problemResponses } from "../../errors/openapi";
import { JobIdParam } from "./schemas";

export const getJobArtifactRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/artifacts/{name}",
	operationId: "getJobArtifact",
	tags: ["jobs"],
	summary: "Download a job artifact",
	description: "Artifacts of a succeeded job: result.tif (float32 GeoTIFF, nodata NaN) and stats.json.",
	request: {
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
			content: {
				"image/tiff": { schema: z.string().openapi({ format: "binary" }) },
				"application/json": { schema: z.record(z.string(), z.unknown()) },
			},
		},
		206: { description: "The requested byte range of the artifact" },
		...problemResponses(404),
	},
});

export function registerGetJobArtifact(app: App): void {
	app.openapi(getJobArtifactRoute, async function getJobArtifact(c) {
		const { id, name } = c.req.valid("param");
		const job = await getJob(c.env.DB, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const artifact = (await listArtifacts(c.env.DB, id)).find((candidate) => candidate.name === name);
		if (!artifact) {
			throw new ApiError("not-found", `Job ${id} (${job.status}) has no artifact named '${name}'.`);
		}
		const hasRange = c.req.header("range") !== undefined;
		const object = await c.env.BUCKET.get(artifact.objectKey, hasRange ? { range: c.req.raw.headers } : {});
		if (!object) throw new Error(`artifact ${artifact.objectKey} is recorded but not stored`);

		const headers: Record<string, string> = {
			"Content-Type": artifact.mediaType,
			"Content-Disposition": `attachment; filename="${id}-${name}"`,
			"Accept-Ranges": "bytes",
			ETag: object.httpEtag,
			"Content-Length": String(object.size),
		};
		const range = object.range as { offset?: number; length?: number } | undefined;
		if (hasRange && range) {
			const offset = range.offset ?? 0;
			const length = range.length ?? object.size - offset;
			headers["Content-Range"] = `bytes ${offset}-${offset + length - 1}/${object.size}`;
			headers["Content-Length"] = String(length);
			return c.body(object.body, 206, headers);
		}
		return c.body(object.body, 200, headers);
	});
}
