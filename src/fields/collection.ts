/**
 * Field collections: the GeoJSON FeatureCollection of field boundaries a tenant sends (POST
 * /v1/fields, and a job's inline zones), in longitude/latitude (RFC 7946), checked into the
 * features a job computes over.
 *
 * Every check is here, on the value as parsed from JSON, so that each problem names the feature
 * (`features[3].geometry.coordinates[0]`, under the caller's prefix) whichever request carried
 * it; the schema only documents the shape. Structure, ranges and ring closure are checked by
 * hand; a ring whose positions all lie on one line (which crosses nothing kinks can see, yet
 * encloses no area) by robust-predicates' exact orientation; self-intersections by @turf/kinks,
 * which reports where rings cross or touch (it compares
 * every pair of a feature's edges, hence MAX_FEATURE_VERTICES); holes and nested polygons, which
 * cross nothing, by @turf/boolean-point-in-polygon. @turf/boolean-valid is not used: it finds
 * nothing kinks does not, bar a ring doubling back on itself, misses a hole outside its shell,
 * and its spike check costs half a second on a 5000-position ring.
 */
import { z } from "@hono/zod-openapi";
import { booleanPointInPolygon } from "@turf/boolean-point-in-polygon";
import { kinks } from "@turf/kinks";
import { orient2d } from "robust-predicates";
import { ringsBounds } from "../bounds";
import { ApiError, type FieldError } from "../errors/api-error";

/** A feature as a job uses it; `polygons` is its geometry as a MultiPolygon's coordinates. */
export interface FieldFeature {
	id: string;
	polygons: [number, number][][][];
	geometry: { type: "Polygon" | "MultiPolygon"; coordinates: unknown };
	properties: Record<string, unknown> | null;
}

export interface FieldLimits {
	maxFeatures: number;
	/** Positions summed over every feature. */
	maxVertices: number;
}

export function fieldLimits(env: Env): FieldLimits {
	return { maxFeatures: env.FIELDS_MAX_FEATURES, maxVertices: env.FIELDS_MAX_VERTICES };
}

/**
 * Positions of one feature. The self-intersection check compares every pair of its edges: 5000
 * positions take some 80 ms, so a collection at FIELDS_MAX_VERTICES takes seconds, not minutes.
 * A field boundary rarely has more than a few hundred.
 */
export const MAX_FEATURE_VERTICES = 5000;

/** A response lists this many problems at most; a broken file would otherwise list thousands. */
const MAX_REPORTED_ERRORS = 20;

/** Intersection points a self-intersection's message names. */
const MAX_REPORTED_POINTS = 3;

const Longitude = z.number().min(-180).max(180);
const Latitude = z.number().min(-90).max(90);
const Position = z
	.tuple([Longitude, Latitude], z.number())
	.meta({ description: "[longitude, latitude]; an altitude is allowed and ignored" });
const LinearRing = z
	.array(Position)
	.min(4)
	.meta({ description: "Closed (its last position repeats the first); it may not cross or touch itself" });
const PolygonRings = z
	.array(LinearRing)
	.min(1)
	.meta({ description: "The exterior ring, then holes inside it; rings may not cross or touch" });

const FieldFeatureDocument = z.looseObject({
	type: z.literal("Feature"),
	id: z.union([z.string(), z.number()]).optional().meta({
		description:
			"The feature's id in results; else `properties.id`, else its position in `features` (`0`, `1`, …). Unique within the set",
	}),
	geometry: z.union([
		z.object({ type: z.literal("Polygon"), coordinates: PolygonRings }),
		z.object({ type: z.literal("MultiPolygon"), coordinates: z.array(PolygonRings).min(1) }),
	]),
	properties: z
		.record(z.string(), z.unknown())
		.nullable()
		.optional()
		.meta({ description: "Kept as sent (a partner's own ids, crop, farm, …)" }),
});

const FieldCollectionDocument = z.looseObject({
	type: z.literal("FeatureCollection"),
	features: z.array(FieldFeatureDocument).min(1),
});

const { $schema: _dialect, ...fieldCollectionJsonSchema } = z.toJSONSchema(FieldCollectionDocument, {
	target: "draft-2020-12",
	io: "input",
});

const NOT_A_COLLECTION = 'must be a GeoJSON FeatureCollection: {"type": "FeatureCollection", "features": [...]}';

/**
 * The body of POST /v1/fields (and a job's inline zones). Validation refuses only null (which
 * also keeps the document's schema from turning nullable) and the shape is only documented:
 * {@link checkFieldCollection} checks it, so that a problem's path names the feature whichever
 * request carried it.
 */
/** A collection of two fields, as the document shows it: one with its own id, one with `properties.id`. */
export const fieldCollectionExample = {
	type: "FeatureCollection",
	features: [
		{
			type: "Feature",
			id: "north-field",
			geometry: {
				type: "Polygon",
				coordinates: [
					[
						[16.3432, 47.8297],
						[16.355, 47.8297],
						[16.355, 47.8385],
						[16.3432, 47.8385],
						[16.3432, 47.8297],
					],
				],
			},
			properties: { crop: "wheat", farm: "Gut Ebenthal" },
		},
		{
			type: "Feature",
			geometry: {
				type: "Polygon",
				coordinates: [
					[
						[16.36, 47.83],
						[16.371, 47.83],
						[16.371, 47.8385],
						[16.36, 47.83],
					],
				],
			},
			properties: { id: 4711, crop: "maize" },
		},
	],
};

export const FieldCollectionSchema = z
	.custom<unknown>((value) => value !== null, { error: NOT_A_COLLECTION })
	.openapi("FieldCollection", {
		...(fieldCollectionJsonSchema as object),
		description:
			"A GeoJSON FeatureCollection (RFC 7946) of Polygon and MultiPolygon features in longitude/latitude. Foreign members and properties are kept as sent",
	});

type Ring = [number, number][];
type Report = (path: string, message: string) => void;

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The ring's positions as [lon, lat], or null after reporting what is wrong with them. */
function readRing(value: unknown, at: string, report: Report): Ring | null {
	if (!Array.isArray(value)) {
		report(at, "must be a linear ring: an array of positions");
		return null;
	}
	const ring: Ring = [];
	let wellFormed = true;
	// A loop, not forEach: a job reads its collection's every position again.
	for (let p = 0; p < value.length; p++) {
		const position: unknown = value[p];
		const lon: unknown = Array.isArray(position) ? position[0] : undefined;
		const lat: unknown = Array.isArray(position) ? position[1] : undefined;
		if (typeof lon !== "number" || typeof lat !== "number" || !Number.isFinite(lon) || !Number.isFinite(lat)) {
			report(`${at}[${p}]`, "must be a position: [longitude, latitude]");
			wellFormed = false;
			continue;
		}
		if (Math.abs(lon) > 180) {
			report(`${at}[${p}][0]`, `longitude ${lon} is outside -180 to 180 (positions are [longitude, latitude])`);
			wellFormed = false;
		}
		if (Math.abs(lat) > 90) {
			report(`${at}[${p}][1]`, `latitude ${lat} is outside -90 to 90 (positions are [longitude, latitude])`);
			wellFormed = false;
		}
		ring.push([lon, lat]);
	}
	if (!wellFormed) return null;
	if (ring.length < 4) {
		report(at, `a linear ring needs at least 4 positions; it has ${ring.length}`);
		return null;
	}
	const first = ring[0] as [number, number];
	const last = ring.at(-1) as [number, number];
	if (first[0] !== last[0] || first[1] !== last[1]) {
		report(at, "the ring is not closed: its last position must repeat its first");
		return null;
	}
	return ring;
}

function readPolygon(value: unknown, at: string, report: Report): Ring[] | null {
	if (!Array.isArray(value)) {
		report(at, "must be a polygon: an array of linear rings");
		return null;
	}
	if (value.length === 0) {
		report(at, "empty: a polygon needs its exterior ring");
		return null;
	}
	const rings = value.map((ring: unknown, r) => readRing(ring, `${at}[${r}]`, report));
	return rings.every((ring) => ring !== null) ? (rings as Ring[]) : null;
}

/** The geometry as a MultiPolygon's coordinates, or null after reporting what is wrong with it. */
function readGeometry(
	value: unknown,
	at: string,
	report: Report,
): { type: "Polygon" | "MultiPolygon"; polygons: Ring[][] } | null {
	if (value === undefined || value === null) {
		report(at, "missing: every feature needs a Polygon or MultiPolygon geometry");
		return null;
	}
	if (!isObject(value)) {
		report(at, "must be a GeoJSON Polygon or MultiPolygon object");
		return null;
	}
	const { type, coordinates } = value;
	if (type !== "Polygon" && type !== "MultiPolygon") {
		report(`${at}.type`, `must be Polygon or MultiPolygon, not ${JSON.stringify(type) ?? "missing"}`);
		return null;
	}
	if (type === "Polygon") {
		const polygon = readPolygon(coordinates, `${at}.coordinates`, report);
		return polygon ? { type, polygons: [polygon] } : null;
	}
	if (!Array.isArray(coordinates)) {
		report(`${at}.coordinates`, "must be an array of polygons");
		return null;
	}
	if (coordinates.length === 0) {
		report(`${at}.coordinates`, "empty: a MultiPolygon needs at least one polygon");
		return null;
	}
	const polygons = coordinates.map((polygon: unknown, k) => readPolygon(polygon, `${at}.coordinates[${k}]`, report));
	return polygons.every((polygon) => polygon !== null) ? { type, polygons: polygons as Ring[][] } : null;
}

/**
 * The ring without repeated consecutive positions, which GeoJSON allows but kinks would report
 * as the ring touching itself.
 */
function withoutRepeats(ring: Ring): Ring {
	return ring.filter((position, i) => {
		const previous = ring[i - 1];
		return previous === undefined || previous[0] !== position[0] || previous[1] !== position[1];
	});
}

function ringBounds(ring: Ring): [number, number, number, number] {
	return ringsBounds([ring]);
}

/**
 * A feature's [west, south, east, north] in longitude/latitude: its polygons' exterior rings'
 * (holes lie inside them, as checked).
 */
export function featureBounds(polygons: readonly (readonly Ring[])[]): [number, number, number, number] {
	return ringsBounds(polygons.map((polygon) => polygon[0] as Ring));
}

function boundsWithin(inner: readonly number[], outer: readonly number[]): boolean {
	const [w, s, e, n] = inner as [number, number, number, number];
	const [ow, os, oe, on] = outer as [number, number, number, number];
	return w >= ow && s >= os && e <= oe && n <= on;
}

/**
 * Whether every position of a ring (no repeated consecutive positions) lies on the line through
 * its first two, decided exactly: such a ring doubles back along itself, which GEOS reports as a
 * self-intersection and kinks, comparing edges that overlap without crossing, does not.
 */
function onOneLine(ring: Ring): boolean {
	const [[ax, ay], [bx, by]] = ring as [[number, number], [number, number]];
	return ring.every(([cx, cy]) => orient2d(ax, ay, bx, by, cx, cy) === 0);
}

/** A point to 7 decimals (about a centimetre), not the float noise of the intersection's arithmetic. */
const formatPoint = ([lon, lat]: number[]) => `[${Number(lon?.toFixed(7))}, ${Number(lat?.toFixed(7))}]`;

/**
 * Reports what makes a well-formed geometry invalid: a ring with fewer than 3 distinct or all
 * collinear positions, rings that cross or touch (themselves or each other), a hole outside its
 * polygon's exterior ring, or a MultiPolygon's polygon inside another. True when it is valid.
 */
function checkGeometry(
	geometry: { type: "Polygon" | "MultiPolygon"; polygons: Ring[][] },
	at: string,
	report: Report,
): boolean {
	const coordinatesAt = (k: number) => (geometry.type === "Polygon" ? `${at}.coordinates` : `${at}.coordinates[${k}]`);
	const polygons = geometry.polygons.map((polygon) => polygon.map(withoutRepeats));
	let valid = true;
	polygons.forEach((polygon, k) => {
		polygon.forEach((ring, r) => {
			if (ring.length < 4) {
				report(`${coordinatesAt(k)}[${r}]`, "the ring has fewer than 3 distinct positions: it encloses no area");
				valid = false;
			}
		});
	});
	if (!valid) return false;
	polygons.forEach((polygon, k) => {
		polygon.forEach((ring, r) => {
			if (onOneLine(ring)) {
				report(`${coordinatesAt(k)}[${r}]`, "the ring's positions all lie on one line: it encloses no area");
				valid = false;
			}
		});
	});
	if (!valid) return false;

	const crossings = kinks(
		geometry.type === "Polygon"
			? { type: "Polygon", coordinates: polygons[0] as Ring[] }
			: { type: "MultiPolygon", coordinates: polygons },
	).features.map((point) => point.geometry.coordinates);
	if (crossings.length > 0) {
		const single = geometry.type === "Polygon" && polygons[0]?.length === 1;
		const where = [...new Set(crossings.map(formatPoint))];
		report(
			single ? `${at}.coordinates[0]` : `${at}.coordinates`,
			`self-intersection: ${single ? "the ring crosses or touches itself" : "rings cross or touch"} at ${where.slice(0, MAX_REPORTED_POINTS).join(", ")}${where.length > MAX_REPORTED_POINTS ? ` and ${where.length - MAX_REPORTED_POINTS} more points` : ""}`,
		);
		return false;
	}

	// Rings that cross nothing are inside or outside one another whole, so one position decides.
	polygons.forEach((polygon, k) => {
		const shell = { type: "Polygon" as const, coordinates: [polygon[0] as Ring] };
		polygon.slice(1).forEach((hole, h) => {
			if (!booleanPointInPolygon(hole[0] as [number, number], shell)) {
				report(`${coordinatesAt(k)}[${h + 1}]`, "the hole lies outside its polygon's exterior ring");
				valid = false;
			}
		});
	});
	if (geometry.type === "MultiPolygon") {
		const bounds = polygons.map((polygon) => ringBounds(polygon[0] as Ring));
		polygons.forEach((polygon, j) => {
			const inside = polygons.findIndex(
				(other, k) =>
					k !== j &&
					boundsWithin(bounds[j] as number[], bounds[k] as number[]) &&
					booleanPointInPolygon((polygon[0] as Ring)[0] as [number, number], { type: "Polygon", coordinates: other }),
			);
			if (inside >= 0) {
				report(
					`${at}.coordinates[${j}]`,
					`the polygon lies inside coordinates[${inside}]: a MultiPolygon's polygons may not overlap`,
				);
				valid = false;
			}
		});
	}
	return valid;
}

/** The feature's id (its `id`, else `properties.id`, else its position) and where it came from. */
function featureId(
	feature: Record<string, unknown>,
	index: number,
	at: string,
	report: Report,
): { id: string; path: string } | null {
	const { id, properties } = feature;
	if (id !== undefined) {
		if ((typeof id === "number" && Number.isFinite(id)) || typeof id === "string") {
			return { id: String(id), path: `${at}.id` };
		}
		report(`${at}.id`, "must be a string or a number");
		return null;
	}
	const ownId = isObject(properties) ? properties.id : undefined;
	if ((typeof ownId === "number" && Number.isFinite(ownId)) || typeof ownId === "string") {
		return { id: String(ownId), path: `${at}.properties.id` };
	}
	return { id: String(index), path: at };
}

/**
 * Checks a FeatureCollection of field boundaries against the limits and returns its features,
 * their bounding box ([west, south, east, north]) and positions; or the 422 naming every problem
 * found (the first 20), each path under `pathPrefix` (`zones` gives `zones.features[2].geometry`).
 * Ids are unique within a collection: of two features with one id, the second is refused.
 * `geometryChecked`: the collection passed these checks when it was stored, so the costly ones
 * (self-intersections, holes) are not made again, e.g. by each window of a job that reads it.
 */
export function checkFieldCollection(
	collection: unknown,
	limits: { maxFeatures: number; maxVertices: number },
	pathPrefix = "",
	{ geometryChecked = false }: { geometryChecked?: boolean } = {},
): { features: FieldFeature[]; bbox: [number, number, number, number]; vertices: number } | ApiError {
	const errors: FieldError[] = [];
	const report: Report = (path, message) => {
		if (errors.length >= MAX_REPORTED_ERRORS) return;
		const full = [pathPrefix, path].filter((part) => part !== "").join(".");
		errors.push({ path: full || "(body)", message });
	};
	const refusal = () =>
		new ApiError("validation-failed", errors.map((error) => `${error.path}: ${error.message}`).join("; "), { errors });

	if (!isObject(collection) || collection.type !== "FeatureCollection") {
		report(isObject(collection) ? "type" : "", NOT_A_COLLECTION);
		return refusal();
	}
	const { features } = collection;
	if (!Array.isArray(features)) {
		report("features", "must be an array of GeoJSON Features");
		return refusal();
	}
	if (features.length === 0) {
		report("features", "must hold at least one feature");
		return refusal();
	}
	if (features.length > limits.maxFeatures) {
		report("features", `${features.length} features; a collection may have at most ${limits.maxFeatures}`);
		return refusal();
	}

	const checked: FieldFeature[] = [];
	const firstWithId = new Map<string, number>();
	const bbox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
	let vertices = 0;
	for (const [i, feature] of features.entries()) {
		if (errors.length >= MAX_REPORTED_ERRORS) break;
		const at = `features[${i}]`;
		if (!isObject(feature) || feature.type !== "Feature") {
			report(at, 'must be a GeoJSON Feature: {"type": "Feature", "geometry": {…}, "properties": {…}}');
			continue;
		}
		const { properties } = feature;
		if (properties !== undefined && properties !== null && !isObject(properties)) {
			report(`${at}.properties`, "must be an object or null");
		}
		const id = featureId(feature, i, at, report);
		if (id) {
			const first = firstWithId.get(id.id);
			if (first === undefined) firstWithId.set(id.id, i);
			else report(id.path, `id ${JSON.stringify(id.id)} is already the id of features[${first}]; ids must be unique`);
		}
		const geometry = readGeometry(feature.geometry, `${at}.geometry`, report);
		if (!geometry) continue;
		let positions = 0;
		for (const polygon of geometry.polygons) for (const ring of polygon) positions += ring.length;
		if (positions > MAX_FEATURE_VERTICES) {
			report(`${at}.geometry`, `${positions} positions; a feature may have at most ${MAX_FEATURE_VERTICES}`);
			continue;
		}
		vertices += positions;
		if (vertices > limits.maxVertices) {
			report("features", `more than ${limits.maxVertices} positions in all (passed at ${at})`);
			return refusal();
		}
		if (!(geometryChecked || checkGeometry(geometry, `${at}.geometry`, report)) || !id) continue;
		const [west, south, east, north] = featureBounds(geometry.polygons);
		bbox[0] = Math.min(bbox[0], west);
		bbox[1] = Math.min(bbox[1], south);
		bbox[2] = Math.max(bbox[2], east);
		bbox[3] = Math.max(bbox[3], north);
		checked.push({
			id: id.id,
			polygons: geometry.polygons,
			geometry: { type: geometry.type, coordinates: (feature.geometry as { coordinates: unknown }).coordinates },
			properties: isObject(properties) ? properties : null,
		});
	}
	if (errors.length > 0) return refusal();
	return { features: checked, bbox, vertices };
}
