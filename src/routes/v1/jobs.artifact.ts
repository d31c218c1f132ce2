/**
 * GET /v1/jobs/{id}/artifacts/{name}: streams an artifact from R2. Range requests are honoured
 * so GIS clients (GDAL's /vsicurl/) can read result.tif in place.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { getTenantJob, listArtifacts } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import { problemResponses } from "../../errors/openapi";
import { statisticsExample } from "./examples";
import { JobIdParam } from "./schemas";

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

export const getJobArtifactRoute = createRoute({
	method: "get",
	path: "/v1/jobs/{id}/artifacts/{name}",
	operationId: "getJobArtifact",
	tags: ["jobs"],
	summary: "Download a job artifact",
	middleware: [requireScope("jobs:read")] as const,
	security: bearerWith("jobs:read"),
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
				"application/json": { schema: z.record(z.string(), z.unknown()), example: statisticsExample },
			},
		},
		206: { description: "The requested byte range of the artifact" },
		...problemResponses(401, 403, 404, 416, 429),
	},
});

export function registerGetJobArtifact(app: App): void {
	app.openapi(getJobArtifactRoute, async function getJobArtifact(c) {
		const { id, name } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const job = await getTenantJob(c.env.DB, tenantId, id);
		if (!job) throw new ApiError("not-found", `Job ${id} does not exist.`);
		const artifact = (await listArtifacts(c.env.DB, tenantId, id)).find((candidate) => candidate.name === name);
		if (!artifact) {
			throw new ApiError("not-found", `Job ${id} (${job.status}) has no artifact named '${name}'.`);
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
