/** GET /v1/uploads/{id}: an upload and what its header says. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { findUploads } from "../../db/uploads";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { uploadExample } from "./examples";
import { renderUpload, UploadIdParam, UploadSchema } from "./schemas";

export const getUploadRoute = createRoute({
	method: "get",
	path: "/v1/uploads/{id}",
	operationId: "getUpload",
	tags: ["uploads"],
	summary: "Get an upload",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	request: { params: UploadIdParam },
	responses: {
		200: {
			description: "The upload",
			headers: keyedHeaders,
			content: { "application/json": { schema: UploadSchema, example: uploadExample } },
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerGetUpload(app: App): void {
	app.openapi(getUploadRoute, async function getUpload(c) {
		const { id } = c.req.valid("param");
		const upload = (await findUploads(c.env.DB, c.get("principal").tenantId, [id])).get(id);
		if (!upload) throw new ApiError("not-found", `Upload ${id} does not exist.`);
		return c.json(renderUpload(upload), 200);
	});
}
