/**
 * POST /v1/fields: stores a GeoJSON FeatureCollection of field boundaries (a field set) for jobs
 * to compute statistics over. The collection is checked whole (src/fields/collection.ts), then
 * kept as sent in R2, with what listings and quotas need in D1.
 */
import { createRoute } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import type { App } from "../../context";
import { fieldSetUsage, insertFieldSetWithinQuota } from "../../db/field-sets";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses } from "../../errors/openapi";
import {
	checkFieldCollection,
	FieldCollectionSchema,
	fieldCollectionExample,
	fieldLimits,
} from "../../fields/collection";
import { newFieldSetId } from "../../ids";
import { log } from "../../observability/log";
import { writeFieldCollection } from "../../storage/field-collections";
import { objectKeys } from "../../storage/keys";
import { fieldBodyLimit } from "./body-limit";
import { fieldSetExample } from "./examples";
import { FieldSetSchema, renderFieldSet } from "./schemas";

const limitFieldCollectionBody = fieldBodyLimit(
	(maxSize) => `The field collection is larger than ${maxSize} bytes; split it into several field sets.`,
);

export const createFieldSetRoute = createRoute({
	method: "post",
	path: "/v1/fields",
	operationId: "createFieldSet",
	tags: ["fields"],
	summary: "Store a set of fields",
	description:
		"The body is a GeoJSON FeatureCollection (RFC 7946, longitude/latitude) of Polygon and MultiPolygon features, at most FIELDS_MAX_FEATURES (10 000) features, FIELDS_MAX_VERTICES (1 000 000) positions in all and 5000 in one feature, in FIELDS_MAX_BODY_BYTES (16 MiB). Every geometry is checked: rings closed, with at least 4 positions, not crossing or touching themselves or each other, holes inside their exterior ring, coordinates in range. A feature's id is its `id`, else `properties.id`, else its position (`0`, `1`, …); two features with one id are refused (the second is named). Each problem is reported in `errors`, its path naming the feature (`features[3].geometry.coordinates[0]`). The collection is kept as sent: GET gives back the same bytes, properties and all.",
	middleware: [requireScope("fields:write"), limitFieldCollectionBody] as const,
	security: bearerWith("fields:write"),
	request: {
		body: {
			required: true,
			content: { "application/json": { schema: FieldCollectionSchema, example: fieldCollectionExample } },
		},
	},
	responses: {
		201: {
			description: "Stored",
			headers: { ...keyedHeaders, ...locationHeader("/v1/fields/fld_0123456789abcdef01234567") },
			content: { "application/json": { schema: FieldSetSchema, example: fieldSetExample } },
		},
		...problemResponses(400, 401, 403, 413, 415, 422, 429),
	},
});

export function registerCreateFieldSet(app: App): void {
	app.openapi(createFieldSetRoute, async function createFieldSet(c) {
		const { tenantId, quotas } = c.get("principal");
		const checked = checkFieldCollection(c.req.valid("json"), fieldLimits(c.env));
		if (checked instanceof ApiError) throw checked;
		// The validator parsed the body from its text, which Hono keeps: these are the bytes sent.
		const sent = await c.req.text();
		const id = newFieldSetId();
		const objectKey = objectKeys.fieldSet(id);
		const bytes = await writeFieldCollection(c.env.BUCKET, objectKey, sent);
		const fieldSet = {
			id,
			tenantId,
			objectKey,
			features: checked.features.length,
			vertices: checked.vertices,
			bbox: checked.bbox,
			bytes,
			createdAt: new Date().toISOString(),
		};
		if (!(await insertFieldSetWithinQuota(c.env.DB, fieldSet, quotas))) {
			await c.env.BUCKET.delete(objectKey);
			const usage = await fieldSetUsage(c.env.DB, tenantId);
			throw new ApiError(
				"quota-exceeded",
				`This tenant stores ${usage.sets} field sets with ${usage.vertices} positions; ${checked.vertices} more positions in one more set would pass its quota of ${quotas.maxFieldSets} sets or ${quotas.maxFieldVertices} positions. Delete field sets it no longer needs.`,
			);
		}
		log.info("field_set_stored", {
			trace_id: c.get("trace").traceId,
			field_set_id: id,
			features: fieldSet.features,
			vertices: fieldSet.vertices,
			bytes,
		});
		return c.json(renderFieldSet(fieldSet), 201, { Location: `/v1/fields/${id}` });
	});
}
