/**
 * POST /v1/uploads/{id}/complete: joins the parts of an upload into one R2 object, then checks
 * it as a single-request upload is checked (TIFF signature, readable header). Completing an
 * upload again answers with the same upload.
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { closeUploadSession, completeUploadSession, getUploadSession, listUploadParts } from "../../db/upload-sessions";
import { findUploads } from "../../db/uploads";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses } from "../../errors/openapi";
import { log } from "../../observability/log";
import { hasTiffSignature, TIFF_SIGNATURE_BYTES } from "../../raster/tiff-structure";
import { uploadExample } from "./examples";
import { partCount, renderUpload, UploadIdParam, UploadSchema } from "./schemas";
import { describeStoredTiff, notATiff, sessionExpired } from "./upload-files";

export const completeUploadRoute = createRoute({
	method: "post",
	path: "/v1/uploads/{id}/complete",
	operationId: "completeUpload",
	tags: ["uploads"],
	summary: "Complete an upload in parts",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	description:
		"Every part must have been received. The joined file is checked like a single-request upload: not a TIFF answers 415, an unreadable header 422, and the upload is then discarded. A 503 (storage briefly unavailable) keeps the joined file and the upload open: complete it again after Retry-After. Completing again answers 200 with the same upload; completing after the session expired (24 h after it was opened) answers 409.",
	request: { params: UploadIdParam },
	responses: {
		200: {
			description: "Already complete",
			headers: keyedHeaders,
			content: { "application/json": { schema: UploadSchema, example: uploadExample } },
		},
		201: {
			description: "Complete and stored",
			headers: { ...keyedHeaders, ...locationHeader("/v1/uploads/upl_0123456789abcdef01234567") },
			content: { "application/json": { schema: UploadSchema, example: uploadExample } },
		},
		...problemResponses(401, 403, 404, 409, 415, 422, 429, 503),
	},
});

export function registerCompleteUpload(app: App): void {
	app.openapi(completeUploadRoute, async function completeUpload(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const session = await getUploadSession(c.env.DB, tenantId, id);
		if (!session) throw new ApiError("not-found", `Upload ${id} does not exist.`);
		if (session.status === "completed") {
			const upload = (await findUploads(c.env.DB, tenantId, [id])).get(id);
			if (!upload) throw new Error(`upload session ${id} is completed but its upload is not recorded`);
			return c.json(renderUpload(upload), 200);
		}
		const expired = sessionExpired(session, Date.now());
		if (expired) throw expired;
		if (session.status === "aborted") throw new ApiError("upload-closed", `Upload ${id} was aborted.`);
		const parts = await listUploadParts(c.env.DB, id);
		const received = new Set(parts.map((part) => part.number));
		const missing = Array.from({ length: partCount(session) }, (_, i) => i + 1).filter((n) => !received.has(n));
		if (missing.length > 0) {
			throw new ApiError("upload-incomplete", `Parts ${missing.join(", ")} of upload ${id} have not been received.`, {
				errors: missing.map((n) => ({ path: `parts.${n}`, message: "not received" })),
			});
		}
		// A completion that answered 503 after joining the parts left the object: it is read again.
		if (!(await c.env.BUCKET.head(session.objectKey))) {
			const multipart = c.env.BUCKET.resumeMultipartUpload(session.objectKey, session.multipartId);
			try {
				await multipart.complete(parts.map((part) => ({ partNumber: part.number, etag: part.etag })));
			} catch (error) {
				// A concurrent completion of the same session joined the parts first: its file is this one.
				if (!(await c.env.BUCKET.head(session.objectKey))) throw error;
			}
		}

		const head = await c.env.BUCKET.get(session.objectKey, { range: { offset: 0, length: TIFF_SIGNATURE_BYTES } });
		const signature = head ? new Uint8Array(await head.arrayBuffer()) : new Uint8Array(0);
		try {
			if (!hasTiffSignature(signature)) {
				await c.env.BUCKET.delete(session.objectKey);
				throw notATiff();
			}
			const raster = await describeStoredTiff(c.env, session.objectKey, session.bytes);
			const upload = {
				id,
				objectKey: session.objectKey,
				bytes: session.bytes,
				raster,
				createdAt: new Date().toISOString(),
			};
			const { traceId } = c.get("trace");
			if (!(await completeUploadSession(c.env.DB, upload, { tenantId, traceId }))) {
				// Another completion of the same session recorded the upload first: it is the answer.
				const recorded = (await findUploads(c.env.DB, tenantId, [id])).get(id);
				if (!recorded) throw new ApiError("upload-closed", `Upload ${id} is no longer open.`);
				return c.json(renderUpload(recorded), 200);
			}
			log.info("upload_stored", {
				trace_id: traceId,
				upload_id: id,
				bytes: session.bytes,
				parts: parts.length,
				...raster,
			});
			return c.json(renderUpload(upload), 201, { Location: `/v1/uploads/${id}` });
		} catch (error) {
			// The file was rejected and is gone: the session cannot be completed again. After a
			// storage fault the file and the open session are kept, for the client to complete again.
			if (error instanceof ApiError && error.code !== "storage-unavailable") {
				await closeUploadSession(c.env.DB, id, "aborted");
			}
			throw error;
		}
	});
}
