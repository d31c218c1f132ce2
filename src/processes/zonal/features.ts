/**
 * A zonal job's fields: the FeatureCollection its request points at (a field set's, or the copy
 * of one sent inline), read from R2 and checked as POST /v1/fields checks it, and where each
 * field lies on a date's grid.
 */
import type { JobRecord } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { checkFieldCollection, type FieldFeature, fieldLimits } from "../../fields/collection";
import type { Point } from "../../raster/aoi";
import { doubledArea, pixelBox, polygonsInPixels } from "../../raster/coverage";
import type { Grid } from "../../raster/grid";
import type { PixelWindow } from "../../raster/read";
import { readFieldCollection } from "../../storage/field-collections";

/**
 * The last collection read, by object key: every window of a job reads the same one, and an
 * isolate runs one job's windows after another.
 */
let lastRead: { objectKey: string; features: FieldFeature[] } | null = null;

/** The job's fields, in the collection's order; a field set deleted since submission fails the job. */
export async function jobFeatures(env: Env, job: JobRecord): Promise<FieldFeature[]> {
	const zones = job.request.zones;
	if (!zones) throw new Error(`job ${job.id} names no zones`);
	if (lastRead?.objectKey === zones.object_key) return lastRead.features;
	const collection = await readFieldCollection(env.BUCKET, zones.object_key);
	if (collection === null) {
		// The job's own copy, removed only with the job's objects (when it ended meanwhile).
		throw new ApiError("input-unavailable", "the job's copy of its fields is no longer stored", {
			errors: [{ path: "zones", message: "not found in storage" }],
		});
	}
	const checked = checkFieldCollection(collection, fieldLimits(env), "zones", { geometryChecked: true });
	if (checked instanceof ApiError) throw checked;
	lastRead = { objectKey: zones.object_key, features: checked.features };
	return checked.features;
}

/** Where a field lies on a grid: its polygons in pixel coordinates and the pixels that may weigh. */
export interface FeatureExtent {
	polygons: Point[][][];
	/** The pixels of the raster that can weigh in the field: its bounding box, cut to the raster. */
	window: PixelWindow;
	/** Each of its polygons' boxes on the raster (one for a Polygon): the blocks a plan reads for it. */
	parts: PixelWindow[];
	/** The pixels it covers, at most: its area in pixels, or its box's where smaller (the quota's count). */
	pixels: number;
}

/**
 * The fields placed on the last grid asked for, by position (computed as asked): a time series
 * puts every date on the same grid as often as not, and a job's windows each place their fields
 * on their date's grid again, one window after another in an isolate. One grid is kept, so the
 * cache stays the size of one placement of the collection.
 */
let lastPlaced: { features: readonly FieldFeature[]; grid: string; extents: (FeatureExtent | null)[] } | null = null;

/**
 * Where each of `positions` of `features` lies on `grid` (vertex by vertex into the grid's CRS,
 * then to pixels), or null for a field that misses the raster. Whatever the coverage rule, only
 * pixels the field's box covers can weigh (see pixelCoverage). A grid in a CRS the fields cannot
 * be projected into is refused as an ApiError naming the inputs of the date (`at`, e.g. `dates[2].`).
 */
export function featureExtents(
	features: readonly FieldFeature[],
	grid: Grid,
	at: string,
	positions: readonly number[] = features.map((_, f) => f),
): (FeatureExtent | null)[] {
	const gridKey = JSON.stringify(grid);
	if (lastPlaced?.features !== features || lastPlaced.grid !== gridKey) {
		lastPlaced = { features, grid: gridKey, extents: [] };
	}
	const { extents } = lastPlaced;
	return positions.map((f) => {
		let extent = extents[f];
		if (extent === undefined) {
			extent = featureExtent(features[f] as FieldFeature, grid, at);
			extents[f] = extent;
		}
		return extent;
	});
}

function featureExtent(feature: FieldFeature, grid: Grid, at: string): FeatureExtent | null {
	const subject = { name: "the fields", purpose: "fields", path: `${at}inputs` };
	const polygons = polygonsInPixels({ type: "MultiPolygon", coordinates: feature.polygons }, grid, subject);
	const raster = { rowStart: 0, rowEnd: grid.height, colStart: 0, colEnd: grid.width };
	const parts = polygons.flatMap((polygon) => pixelBox([polygon], raster) ?? []);
	if (parts.length === 0) return null;
	const window = {
		colStart: Math.min(...parts.map((part) => part.colStart)),
		colEnd: Math.max(...parts.map((part) => part.colEnd)),
		rowStart: Math.min(...parts.map((part) => part.rowStart)),
		rowEnd: Math.max(...parts.map((part) => part.rowEnd)),
	};
	const covered = parts.reduce((sum, part) => sum + (part.colEnd - part.colStart) * (part.rowEnd - part.rowStart), 0);
	const area = polygons.reduce(
		(sum: number, polygon: Point[][]) =>
			sum + polygon.reduce((rings, ring, i) => rings + (i === 0 ? 1 : -1) * Math.abs(doubledArea(ring)), 0) / 2,
		0,
	);
	return { polygons, window, parts, pixels: Math.min(covered, Math.max(area, 1)) };
}
