/** POST /v1/uploads/{id}/abort: abandons an upload in parts; its parts are discarded. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { getUploadSession } from "../../db/upload-sessions";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { UploadIdParam } from "./schemas";
import { abortUploadSession } from "./upload-files";

export const abortUploadRoute = createRoute({
	method: "post",
	path: "/v1/uploads/{id}/abort",
	operationId: "abortUpload",
	tags: ["uploads"],
	summary: "Abort an upload in parts",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	description:
		"Aborting again does nothing; a completed upload cannot be aborted (409). DELETE /v1/uploads/{id} does the same to an open upload.",
	request: { params: UploadIdParam },
	responses: {
		204: { description: "Aborted; the parts received are discarded", headers: keyedHeaders },
		...problemResponses(401, 403, 404, 409, 429),
	},
});

export function registerAbortUpload(app: App): void {
	app.openapi(abortUploadRoute, async function abortUpload(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const session = await getUploadSession(c.env.DB, tenantId, id);
		if (!session) throw new ApiError("not-found", `Upload ${id} does not exist.`);
		if (session.status === "completed") {
			throw new ApiError("upload-closed", `Upload ${id} is complete; it cannot be aborted.`);
		}
		if (session.status === "open") await abortUploadSession(c.env, session);
		return c.body(null, 204);
	});
}
