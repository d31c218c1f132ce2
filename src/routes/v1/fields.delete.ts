/** DELETE /v1/fields/{id}: deletes a field set, its row and its stored collection. */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { deleteFieldSetRow, findFieldSet } from "../../db/field-sets";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { log } from "../../observability/log";
import { FieldSetIdParam } from "./schemas";

export const deleteFieldSetRoute = createRoute({
	method: "delete",
	path: "/v1/fields/{id}",
	operationId: "deleteFieldSet",
	tags: ["fields"],
	summary: "Delete a set of fields",
	description:
		"The set answers 404 from then on and no longer counts against the tenant's field quotas. Jobs submitted before read their own copy of it and are not affected.",
	middleware: [requireScope("fields:write")] as const,
	security: bearerWith("fields:write"),
	request: { params: FieldSetIdParam },
	responses: {
		204: { description: "Deleted", headers: keyedHeaders },
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerDeleteFieldSet(app: App): void {
	app.openapi(deleteFieldSetRoute, async function deleteFieldSet(c) {
		const { id } = c.req.valid("param");
		const { tenantId } = c.get("principal");
		const fieldSet = await findFieldSet(c.env.DB, tenantId, id);
		if (!fieldSet) throw new ApiError("not-found", `Field set ${id} does not exist.`);
		// The object goes first: if the row's deletion fails, deleting again finishes the job.
		await c.env.BUCKET.delete(fieldSet.objectKey);
		await deleteFieldSetRow(c.env.DB, tenantId, id);
		log.info("field_set_deleted", { trace_id: c.get("trace").traceId, field_set_id: id });
		return c.body(null, 204);
	});
}
