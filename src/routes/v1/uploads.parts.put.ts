/** PUT /v1/uploads/{id}/parts/{n}: one part of an upload in parts, streamed to R2. */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { getUploadSession, saveUploadPart } from "../../db/upload-sessions";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { uploadPartExample } from "./examples";
import { partCount, partSize, UploadIdParam, UploadPartSchema } from "./schemas";
import { sessionExpired } from "./upload-files";

const PartBody = z.string().openapi({ format: "binary", description: "The part's bytes" });

export const uploadPartRoute = createRoute({
	method: "put",
	path: "/v1/uploads/{id}/parts/{n}",
	operationId: "uploadPart",
	tags: ["uploads"],
	summary: "Upload one part of a large file",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	description:
		"Part n (1-based) holds bytes (n - 1) x part_bytes up to n x part_bytes of the file; every part has exactly part_bytes except the last, which holds the rest. Parts may arrive in any order, and a part sent again replaces the earlier one. A session expires 24 h after it was opened (its `expires_at`); it then refuses parts with 409.",
	request: {
		params: UploadIdParam.extend({
			n: z.coerce
				.number()
				.int()
				.min(1)
				.openapi({ param: { name: "n", in: "path" }, description: "Part number, from 1", example: 1 }),
		}),
		body: { required: true, content: { "application/octet-stream": { schema: PartBody } } },
	},
	responses: {
		200: {
			description: "The part is stored",
			headers: keyedHeaders,
			content: { "application/json": { schema: UploadPartSchema, example: uploadPartExample } },
		},
		...problemResponses(401, 403, 404, 409, 411, 422, 429),
	},
});

export function registerUploadPart(app: App): void {
	app.openapi(uploadPartRoute, async function uploadPart(c) {
		const { id, n } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const session = await getUploadSession(c.env.DB, tenantId, id);
		if (!session) throw new ApiError("not-found", `Upload ${id} does not exist.`);
		const expired = sessionExpired(session, Date.now());
		if (expired) throw expired;
		if (session.status !== "open") {
			throw new ApiError("upload-closed", `Upload ${id} is ${session.status}; it takes no more parts.`);
		}
		const parts = partCount(session);
		if (n > parts) {
			throw new ApiError("upload-part-mismatch", `Upload ${id} has ${parts} parts; there is no part ${n}.`, {
				errors: [{ path: "param.n", message: `must be between 1 and ${parts}` }],
			});
		}
		const expected = partSize(session, n);
		const header = c.req.header("content-length");
		if (header === undefined || !/^\d+$/.test(header.trim())) {
			throw new ApiError("length-required", "Send the part with a Content-Length header.");
		}
		if (Number(header) !== expected || !c.req.raw.body) {
			await c.req.raw.body?.cancel();
			throw new ApiError(
				"upload-part-mismatch",
				`Part ${n} of upload ${id} must have ${expected} bytes; the request declares ${header}.`,
				{ errors: [{ path: "header.content-length", message: `must be ${expected}` }] },
			);
		}
		const multipart = c.env.BUCKET.resumeMultipartUpload(session.objectKey, session.multipartId);
		const { readable, writable } = new FixedLengthStream(expected);
		const [uploaded] = await Promise.all([multipart.uploadPart(n, readable), c.req.raw.body.pipeTo(writable)]);
		await saveUploadPart(c.env.DB, id, { number: n, bytes: expected, etag: uploaded.etag });
		return c.json({ number: n, bytes: expected, href: `/v1/uploads/${id}/parts/${n}`, received: true }, 200);
	});
}
