/** GET /v1/fields/{id}: a field set's FeatureCollection, the bytes as they were sent. */
import { createRoute } from "@hono/zod-openapi";
import type { TypedResponse } from "hono";
import type { JSONValue } from "hono/utils/types";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { findFieldSet } from "../../db/field-sets";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, problemResponses } from "../../errors/openapi";
import { FieldCollectionSchema, fieldCollectionExample } from "../../fields/collection";
import { FIELD_COLLECTION_MEDIA_TYPE } from "../../storage/field-collections";
import { FieldSetIdParam } from "./schemas";

export const getFieldSetRoute = createRoute({
	method: "get",
	path: "/v1/fields/{id}",
	operationId: "getFieldSet",
	tags: ["fields"],
	summary: "Get a set of fields",
	description: "The FeatureCollection as it was sent: ids, properties and foreign members as they were.",
	middleware: [requireScope("fields:read")] as const,
	security: bearerWith("fields:read"),
	request: { params: FieldSetIdParam },
	responses: {
		200: {
			description: "The field set's FeatureCollection",
			headers: keyedHeaders,
			content: { [FIELD_COLLECTION_MEDIA_TYPE]: { schema: FieldCollectionSchema, example: fieldCollectionExample } },
		},
		...problemResponses(401, 403, 404, 429),
	},
});

export function registerGetFieldSet(app: App): void {
	app.openapi(getFieldSetRoute, async function getFieldSet(c) {
		const { id } = c.req.valid("param");
		const fieldSet = await findFieldSet(c.env.DB, c.get("principal").tenantId, id);
		const object = fieldSet ? await c.env.BUCKET.get(fieldSet.objectKey) : null;
		if (!object) throw new ApiError("not-found", `Field set ${id} does not exist.`);
		const sent = c.body(object.body, 200, { "Content-Type": FIELD_COLLECTION_MEDIA_TYPE });
		// The stored bytes stream out as they are; the route's types expect c.json, which would
		// parse and re-serialize them (and round a partner's large numeric ids).
		return sent as unknown as TypedResponse<JSONValue, 200, "json">;
	});
}
