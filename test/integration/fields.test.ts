/**
 * Field sets: POST, GET, list and DELETE /v1/fields, tenant isolation and scopes, every kind of
 * geometry problem with the path it names, the feature id rules, the limits and the quotas.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { findFieldSet } from "../../src/db/field-sets";
import { checkFieldCollection, fieldLimits, MAX_FEATURE_VERTICES } from "../../src/fields/collection";
import { readFieldCollection } from "../../src/storage/field-collections";
import { api, apiWith, expectProblem, json } from "../helpers";
import { createTenantKey, TEST_TENANT_ID } from "../tenants";

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

type Position = number[];

/** A closed square ring of side `size` degrees from (lon, lat), counter-clockwise. */
function square(lon: number, lat: number, size = 0.01): Position[] {
	return [
		[lon, lat],
		[lon + size, lat],
		[lon + size, lat + size],
		[lon, lat + size],
		[lon, lat],
	];
}

function polygon(...rings: Position[][]) {
	return { type: "Polygon", coordinates: rings };
}

function feature(geometry: unknown, extra: Record<string, unknown> = {}) {
	return { type: "Feature", geometry, properties: null, ...extra };
}

function collection(...features: unknown[]) {
	return { type: "FeatureCollection", features };
}

function postFields(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return api("/v1/fields", {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: typeof body === "string" ? body : JSON.stringify(body),
	});
}

interface FieldSet {
	id: string;
	features: number;
	bbox: number[];
	created_at: string;
}

async function created(body: unknown, headers: Record<string, string> = {}): Promise<FieldSet> {
	const response = await postFields(body, headers);
	expect(response.status, await response.clone().text()).toBe(201);
	const fieldSet = await json<FieldSet>(response);
	expect(response.headers.get("location")).toBe(`/v1/fields/${fieldSet.id}`);
	return fieldSet;
}

/** The problems a refused collection reports, as `path: message`. */
async function refusal(body: unknown): Promise<{ path: string; message: string }[]> {
	const problem = await expectProblem(await postFields(body), 422, "validation-failed");
	return problem.errors ?? [];
}

describe("a field set", () => {
	it("is stored, given back byte for byte with its properties, and deleted with its object", async () => {
		// Spacing, key order, a foreign member and an id past 2^53 survive only if the bytes are kept.
		const sent = `{"type": "FeatureCollection", "name": "farm 12",
			"features": [
				{"type": "Feature", "id": "north", "geometry": ${JSON.stringify(polygon(square(16.34, 47.82)))},
				 "properties": {"crop": "wheat", "farm": "Gut Ebenthal", "partner_id": 12345678901234567890}},
				{"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates":
					${JSON.stringify([[square(16.4, 47.9, 0.02)], [square(16.5, 47.5)]])}},
				 "properties": {"id": 7}}
			]}`;
		const fieldSet = await created(sent);
		expect(fieldSet).toMatchObject({ features: 2, bbox: [16.34, 47.5, 16.51, 47.92] });
		expect(fieldSet.id).toMatch(/^fld_[0-9a-f]{24}$/);

		const got = await api(`/v1/fields/${fieldSet.id}`);
		expect(got.status).toBe(200);
		expect(got.headers.get("content-type")).toBe("application/geo+json");
		expect(await got.text()).toBe(sent);

		const stored = await findFieldSet(env.DB, TEST_TENANT_ID, fieldSet.id);
		expect(stored).toMatchObject({ id: fieldSet.id, tenantId: TEST_TENANT_ID, features: 2, vertices: 15 });
		expect(stored?.bytes).toBe(new TextEncoder().encode(sent).byteLength);
		// What a zonal-statistics job loads: the stored collection, checked into its features.
		const loaded = checkFieldCollection(
			await readFieldCollection(env.BUCKET, stored?.objectKey ?? ""),
			fieldLimits(env),
		);
		if (loaded instanceof Error) throw loaded;
		expect(loaded.features.map((field) => field.id)).toEqual(["north", "7"]);
		expect(loaded.features[1]?.polygons).toHaveLength(2);
		expect(loaded.features[0]?.properties).toMatchObject({ crop: "wheat" });

		const deleted = await api(`/v1/fields/${fieldSet.id}`, { method: "DELETE" });
		expect(deleted.status).toBe(204);
		expect(await env.BUCKET.head(stored?.objectKey ?? "")).toBeNull();
		await expectProblem(await api(`/v1/fields/${fieldSet.id}`), 404, "not-found");
		await expectProblem(await api(`/v1/fields/${fieldSet.id}`, { method: "DELETE" }), 404, "not-found");
	});

	it("is listed newest first, a page at a time, and only to its tenant", async () => {
		const { key } = await createTenantKey();
		const ids: string[] = [];
		for (let i = 0; i < 5; i++) {
			ids.unshift((await created(collection(feature(polygon(square(i, i)))), bearer(key))).id);
		}
		const pages: string[][] = [];
		let cursor: string | null = null;
		do {
			const query: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
			const response = await api(`/v1/fields${query}`, { headers: bearer(key) });
			expect(response.status).toBe(200);
			const page = await json<{ field_sets: FieldSet[]; next: string | null }>(response);
			pages.push(page.field_sets.map((fieldSet) => fieldSet.id));
			cursor = page.next;
		} while (cursor);
		expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
		expect(pages.flat()).toEqual(ids);

		const others = await json<{ field_sets: FieldSet[] }>(await api("/v1/fields?limit=100"));
		expect(others.field_sets.map((fieldSet) => fieldSet.id)).not.toContain(ids[0]);
		const bad = await expectProblem(await api("/v1/fields?cursor=nonsense"), 422, "validation-failed");
		expect(bad.errors?.[0]?.path).toBe("query.cursor");
	});

	it("is another tenant's 404, to read and to delete", async () => {
		const { key } = await createTenantKey();
		const fieldSet = await created(collection(feature(polygon(square(10, 10)))));
		await expectProblem(await api(`/v1/fields/${fieldSet.id}`, { headers: bearer(key) }), 404, "not-found");
		await expectProblem(
			await api(`/v1/fields/${fieldSet.id}`, { method: "DELETE", headers: bearer(key) }),
			404,
			"not-found",
		);
		expect((await api(`/v1/fields/${fieldSet.id}`)).status).toBe(200);
	});

	it("needs fields:write to store or delete, and fields:read to read or list", async () => {
		const body = collection(feature(polygon(square(1, 1))));
		const { key: reader } = await createTenantKey({ scopes: ["fields:read"] });
		const { key: writer } = await createTenantKey({ scopes: ["fields:write"] });
		const refused = await expectProblem(await postFields(body, bearer(reader)), 403, "forbidden");
		expect(refused.detail).toContain("fields:write");
		const fieldSet = await created(body, bearer(writer));
		await expectProblem(await api(`/v1/fields/${fieldSet.id}`, { headers: bearer(writer) }), 403, "forbidden");
		await expectProblem(await api("/v1/fields", { headers: bearer(writer) }), 403, "forbidden");
		await expectProblem(
			await api(`/v1/fields/${fieldSet.id}`, { method: "DELETE", headers: bearer(reader) }),
			403,
			"forbidden",
		);
	});
});

describe("a field collection's geometry", () => {
	const good = feature(polygon(square(16, 47)));

	it.each([
		[
			"an unclosed ring",
			feature(
				polygon(
					square(16, 47)
						.slice(0, 4)
						.concat([[16.001, 47]]),
				),
			),
			"features[1].geometry.coordinates[0]",
			"not closed",
		],
		[
			"a ring of fewer than 4 positions",
			feature(
				polygon([
					[16, 47],
					[16.01, 47],
					[16, 47],
				]),
			),
			"features[1].geometry.coordinates[0]",
			"at least 4 positions",
		],
		[
			"a ring whose positions all lie on one line (no area, yet crossing nothing)",
			feature(
				polygon([
					[16, 47],
					[16.01, 47],
					[16.02, 47],
					[16, 47],
				]),
			),
			"features[1].geometry.coordinates[0]",
			"the ring's positions all lie on one line: it encloses no area",
		],
		[
			"a ring doubling back along a slanted line",
			feature(
				polygon([
					[16, 47],
					[16.25, 47.125],
					[16.5, 47.25],
					[16, 47],
				]),
			),
			"features[1].geometry.coordinates[0]",
			"all lie on one line",
		],
		[
			"a self-intersecting ring (a bow tie)",
			feature(
				polygon([
					[16, 47],
					[16.01, 47.01],
					[16.01, 47],
					[16, 47.01],
					[16, 47],
				]),
			),
			"features[1].geometry.coordinates[0]",
			"self-intersection: the ring crosses or touches itself at [16.005, 47.005]",
		],
		[
			"a hole crossing its shell",
			feature(polygon(square(16, 47, 0.01), square(16.005, 47.005, 0.01))),
			"features[1].geometry.coordinates",
			"self-intersection: rings cross or touch",
		],
		[
			"a longitude out of range",
			feature(polygon(square(179.995, 47))),
			"features[1].geometry.coordinates[0][1][0]",
			"longitude 180.005 is outside -180 to 180",
		],
		[
			"a latitude out of range (positions given as [lat, lon])",
			feature(polygon(square(47, 95))),
			"features[1].geometry.coordinates[0][0][1]",
			"latitude 95 is outside -90 to 90",
		],
		[
			"a hole outside its shell",
			feature(polygon(square(16, 47, 0.01), square(16.1, 47.1, 0.001))),
			"features[1].geometry.coordinates[1]",
			"the hole lies outside its polygon's exterior ring",
		],
		[
			"a MultiPolygon's polygon inside another",
			feature({ type: "MultiPolygon", coordinates: [[square(16, 47, 0.1)], [square(16.01, 47.01, 0.01)]] }),
			"features[1].geometry.coordinates[1]",
			"lies inside coordinates[0]",
		],
		["empty coordinates", feature(polygon()), "features[1].geometry.coordinates", "empty"],
		[
			"an empty MultiPolygon",
			feature({ type: "MultiPolygon", coordinates: [] }),
			"features[1].geometry.coordinates",
			"empty",
		],
		[
			"a Point",
			feature({ type: "Point", coordinates: [16, 47] }),
			"features[1].geometry.type",
			'must be Polygon or MultiPolygon, not "Point"',
		],
		["a missing geometry", { type: "Feature", properties: {} }, "features[1].geometry", "missing"],
		["a null geometry", feature(null), "features[1].geometry", "missing"],
		[
			"a position that is not [lon, lat]",
			feature(polygon([[16, 47], [16.01], [16.01, 47.01], [16, 47]])),
			"features[1].geometry.coordinates[0][1]",
			"must be a position",
		],
		[
			"a feature that is not a Feature",
			{ type: "Polygon", coordinates: [] },
			"features[1]",
			"must be a GeoJSON Feature",
		],
	])("refuses %s, naming it", async (_kind, bad, path, message) => {
		const errors = await refusal(collection(good, bad));
		// Each position out of range is its own problem; the first names the first of them.
		expect(errors.every((error) => error.path.startsWith("features[1]"))).toBe(true);
		expect(errors[0]?.path).toBe(path);
		expect(errors[0]?.message).toContain(message);
	});

	it("accepts a hole inside its shell, repeated positions, and an altitude", async () => {
		const withRepeat = square(20, 40);
		withRepeat.splice(2, 0, withRepeat[1] as Position);
		const fieldSet = await created(
			collection(
				feature(polygon(square(16, 47, 0.1), square(16.01, 47.01, 0.01))),
				feature(polygon(withRepeat)),
				feature(polygon(square(10, 10).map(([lon, lat]) => [lon as number, lat as number, 120]))),
			),
		);
		expect(fieldSet.features).toBe(3);
	});

	it("reports every broken feature, not only the first", async () => {
		const errors = await refusal(collection(feature(null), good, feature(polygon()), feature({ type: "LineString" })));
		expect(errors.map((error) => error.path)).toEqual([
			"features[0].geometry",
			"features[2].geometry.coordinates",
			"features[3].geometry.type",
		]);
	});

	it.each([
		["an array", [], "(body)"],
		["a Feature", good, "type"],
		["a collection without features", { type: "FeatureCollection" }, "features"],
		["an empty collection", collection(), "features"],
	])("refuses %s as the body", async (_kind, body, path) => {
		const errors = await refusal(body);
		expect(errors[0]?.path).toBe(path);
	});

	it("refuses null and a body that is not JSON", async () => {
		expect((await refusal(null))[0]?.message).toContain("FeatureCollection");
		await expectProblem(await postFields("{not json"), 400, "malformed-request");
	});

	it("reports paths under the caller's prefix, as a job's inline zones will", () => {
		const result = checkFieldCollection(
			collection(good, feature(null)),
			{ maxFeatures: 10, maxVertices: 100 },
			"zones",
		);
		expect(result).toBeInstanceOf(Error);
		expect((result as { errors: unknown }).errors).toEqual([
			{ path: "zones.features[1].geometry", message: expect.stringContaining("missing") },
		]);
	});
});

describe("a field's id", () => {
	it("is its id, else properties.id, else its position; a repeated one refuses the second feature", async () => {
		const shape = polygon(square(5, 5));
		const result = checkFieldCollection(
			collection(
				feature(shape, { id: 12 }),
				feature(shape, { properties: { id: "p-1" } }),
				feature(shape),
				feature(shape, { id: "own", properties: { id: "ignored" } }),
			),
			{ maxFeatures: 10, maxVertices: 100 },
		);
		if (result instanceof Error) throw result;
		expect(result.features.map((field) => field.id)).toEqual(["12", "p-1", "2", "own"]);

		expect(await refusal(collection(feature(shape, { id: "a" }), feature(shape, { id: "a" })))).toEqual([
			{ path: "features[1].id", message: 'id "a" is already the id of features[0]; ids must be unique' },
		]);
		// An explicit id may collide with a position: the position-named feature comes second here.
		expect(await refusal(collection(feature(shape, { properties: { id: 1 } }), feature(shape)))).toEqual([
			{ path: "features[1]", message: 'id "1" is already the id of features[0]; ids must be unique' },
		]);
		expect((await refusal(collection(feature(shape, { id: { nested: true } }))))[0]?.path).toBe("features[0].id");
	});
});

describe("field set limits and quotas", () => {
	const limited = (overrides: Partial<Env>, body: unknown) =>
		apiWith(overrides, "/v1/fields", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify(body),
		});

	it("refuses more features, positions or bytes than configured", async () => {
		const three = collection(...[0, 1, 2].map((i) => feature(polygon(square(i, 0)))));
		const tooMany = await expectProblem(await limited({ FIELDS_MAX_FEATURES: 2 }, three), 422, "validation-failed");
		expect(tooMany.errors?.[0]).toMatchObject({ path: "features", message: expect.stringContaining("at most 2") });
		const tooLong = await expectProblem(await limited({ FIELDS_MAX_VERTICES: 12 }, three), 422, "validation-failed");
		expect(tooLong.errors?.[0]).toMatchObject({ path: "features", message: expect.stringContaining("features[2]") });
		await expectProblem(await limited({ FIELDS_MAX_BODY_BYTES: 100 }, three), 413, "payload-too-large");
	});

	it("refuses a feature of more positions than the self-intersection check is given", async () => {
		const ring = Array.from({ length: MAX_FEATURE_VERTICES }, (_, i) => {
			const angle = (2 * Math.PI * i) / MAX_FEATURE_VERTICES;
			return [16 + 0.01 * Math.cos(angle), 47 + 0.01 * Math.sin(angle)];
		});
		ring.push(ring[0] as Position);
		const errors = await refusal(collection(feature(polygon(ring))));
		expect(errors[0]).toMatchObject({ path: "features[0].geometry", message: expect.stringContaining("at most 5000") });
	});

	it("holds the tenant to its stored sets and positions, freed by deleting", async () => {
		const { key } = await createTenantKey({ quotas: { maxFieldSets: 2, maxFieldVertices: 12 } });
		const one = collection(feature(polygon(square(0, 0))));
		const first = await created(one, bearer(key));
		await created(one, bearer(key));
		const full = await expectProblem(await postFields(one, bearer(key)), 429, "quota-exceeded");
		expect(full.detail).toContain("2 field sets");
		await api(`/v1/fields/${first.id}`, { method: "DELETE", headers: bearer(key) });
		// One set is free again, but its 5 positions with the 5 stored would pass 12: no; 2 positions fewer would.
		const big = collection(feature(polygon(square(0, 0))), feature(polygon(square(1, 1))));
		await expectProblem(await postFields(big, bearer(key)), 429, "quota-exceeded");
		await created(one, bearer(key));
	});
});
