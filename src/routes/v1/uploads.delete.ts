/**
 * DELETE /v1/uploads/{id}: deletes a stored upload's file now rather than at retention; on an
 * upload in parts still open it is the abort (POST /v1/uploads/{id}/abort).
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { getUploadSession } from "../../db/upload-sessions";
import { findUploads, markUploadsExpired } from "../../db/uploads";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { log } from "../../observability/log";
import { UploadIdParam } from "./schemas";
import { abortUploadSession } from "./upload-files";

export const deleteUploadRoute = createRoute({
	method: "delete",
	path: "/v1/uploads/{id}",
	operationId: "deleteUpload",
	tags: ["uploads"],
	summary: "Delete an upload",
	description:
		"The file is deleted at once and the upload answers 404 from then on; new jobs cannot use it. A job that has ended keeps its result; a job still queued or running that reads it fails with input-unavailable. Its bytes still count against today's upload quota. An upload in parts that is still open is aborted, as by its abort URL.",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	request: { params: UploadIdParam },
	responses: {
		204: { description: "Deleted", headers: keyedHeaders },
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerDeleteUpload(app: App): void {
	app.openapi(deleteUploadRoute, async function deleteUpload(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const upload = (await findUploads(c.env.DB, tenantId, [id])).get(id);
		if (upload) {
			// The object goes first: if marking fails, deleting again finishes the job.
			await c.env.BUCKET.delete(upload.objectKey);
			await markUploadsExpired(c.env.DB, [id]);
			log.info("upload_deleted", { trace_id: c.get("trace").traceId, upload_id: id });
			return c.body(null, 204);
		}
		const session = await getUploadSession(c.env.DB, tenantId, id);
		if (session?.status === "open") {
			await abortUploadSession(c.env, session);
			return c.body(null, 204);
		}
		throw new ApiError("not-found", `Upload ${id} does not exist.`);
	});
}
