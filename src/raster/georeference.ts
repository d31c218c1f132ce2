/**
 * A GeoTIFF's georeference as its raw tag values (so it can be stored in D1, carried in queue
 * messages and written back verbatim into results), and the comparisons the pipeline needs:
 * the GDAL geotransform it implies, and whether two rasters share a grid and a CRS.
 */
import type { GeoTIFFImage } from "geotiff";
import { RasterInputError } from "./input-errors";

/** Raw GeoTIFF tag values; JSON-serialisable. */
export interface GeoReference {
	modelPixelScale: number[] | null;
	modelTiepoint: number[] | null;
	modelTransformation: number[] | null;
	geoKeyDirectory: number[] | null;
	geoDoubleParams: number[] | null;
	/** GeoAsciiParams without the TIFF NUL terminator (the writer adds it back). */
	geoAsciiParams: string | null;
}

/** GDAL order: origin x, pixel width, row rotation, origin y, column rotation, pixel height. */
export type Geotransform = [number, number, number, number, number, number];

/** A GeoKey's value: a SHORT stored in the directory, DOUBLEs, or ASCII text. */
export type GeoKeyValue = number | number[] | string;

const GEO_DOUBLE_PARAMS_TAG = 34736;
const GEO_ASCII_PARAMS_TAG = 34737;
const GT_RASTER_TYPE_KEY = 1025;
const RASTER_PIXEL_IS_POINT = 2;

/**
 * Keys that name or describe a CRS without defining it (GTCitation, GeogCitation,
 * PCSCitation, VerticalCitation): writers fill them differently for the same CRS.
 * GTRasterType is left out too: it says where in a pixel the tiepoint lies, which
 * {@link geotransformOf} accounts for, and is not part of the CRS.
 */
const KEYS_NOT_DEFINING_CRS = new Set([1026, 2049, 3073, 4097, GT_RASTER_TYPE_KEY]);

type NumericGeoTag =
	| "ModelPixelScale"
	| "ModelTiepoint"
	| "ModelTransformation"
	| "GeoKeyDirectory"
	| "GeoDoubleParams";

async function loadNumbers(image: GeoTIFFImage, tag: NumericGeoTag): Promise<number[] | null> {
	if (!image.fileDirectory.hasTag(tag)) return null;
	const value: unknown = await image.fileDirectory.loadValue(tag);
	if (typeof value === "number") return [value];
	if (ArrayBuffer.isView(value) || Array.isArray(value)) return Array.from(value as ArrayLike<number>, Number);
	throw new RasterInputError("invalid-raster", `TIFF tag ${tag} is not numeric`);
}

/** Reads the georeferencing tags of one image; absent tags are `null`. */
export async function readGeoReference(image: GeoTIFFImage): Promise<GeoReference> {
	let geoAsciiParams: string | null = null;
	if (image.fileDirectory.hasTag("GeoAsciiParams")) {
		const text: unknown = await image.fileDirectory.loadValue("GeoAsciiParams");
		if (typeof text !== "string") throw new RasterInputError("invalid-raster", "TIFF tag GeoAsciiParams is not ASCII");
		// geotiff.js keeps the terminating NUL of ASCII tags.
		geoAsciiParams = text.replace(/\0$/, "");
	}
	return {
		modelPixelScale: await loadNumbers(image, "ModelPixelScale"),
		modelTiepoint: await loadNumbers(image, "ModelTiepoint"),
		modelTransformation: await loadNumbers(image, "ModelTransformation"),
		geoKeyDirectory: await loadNumbers(image, "GeoKeyDirectory"),
		geoDoubleParams: await loadNumbers(image, "GeoDoubleParams"),
		geoAsciiParams,
	};
}

function invalidGeoKeys(message: string): never {
	throw new RasterInputError("invalid-raster", message);
}

/**
 * Resolves the GeoKeyDirectory into key id → value. ASCII values drop the '|' that
 * terminates each of them in GeoAsciiParams (some writers omit it).
 * Throws when an entry points outside GeoDoubleParams/GeoAsciiParams.
 */
export function parseGeoKeys(ref: GeoReference): Map<number, GeoKeyValue> {
	const keys = new Map<number, GeoKeyValue>();
	const directory = ref.geoKeyDirectory;
	if (directory === null) return keys;
	const keyCount = directory[3] ?? 0;
	for (let entry = 1; entry <= keyCount; entry++) {
		const [keyId, location, count, valueOrOffset] = directory.slice(entry * 4, entry * 4 + 4);
		if (keyId === undefined || location === undefined || count === undefined || valueOrOffset === undefined) {
			invalidGeoKeys(`GeoKeyDirectory declares ${keyCount} keys but holds ${directory.length / 4 - 1}`);
		}
		if (location === 0) {
			keys.set(keyId, valueOrOffset);
		} else if (location === GEO_DOUBLE_PARAMS_TAG) {
			const doubles = ref.geoDoubleParams ?? [];
			if (valueOrOffset + count > doubles.length) invalidGeoKeys(`GeoKey ${keyId} lies outside GeoDoubleParams`);
			keys.set(keyId, doubles.slice(valueOrOffset, valueOrOffset + count));
		} else if (location === GEO_ASCII_PARAMS_TAG) {
			const text = ref.geoAsciiParams ?? "";
			// Allow one past the end: some writers count the tag's NUL terminator.
			if (valueOrOffset + count > text.length + 1) invalidGeoKeys(`GeoKey ${keyId} lies outside GeoAsciiParams`);
			keys.set(keyId, text.slice(valueOrOffset, valueOrOffset + count).replace(/\|$/, ""));
		} else {
			invalidGeoKeys(`GeoKey ${keyId} is stored in unsupported TIFF tag ${location}`);
		}
	}
	return keys;
}

/**
 * The geotransform GDAL reports for this georeference, or `null` when there is none (no
 * tags, or tiepoints without a pixel scale, which GDAL reads as ground control points).
 *
 * Follows GDAL's GTiff driver with default options: ModelPixelScale + the first
 * ModelTiepoint take precedence over ModelTransformation; a negative ScaleY is still read as
 * north-up (GTIFF_HONOUR_NEGATIVE_SCALEY unset); and for PixelIsPoint rasters
 * (GTRasterTypeGeoKey = 2) the tiepoint names a pixel centre, so the origin moves back by
 * half a pixel to the corner (GTIFF_POINT_GEO_IGNORE=FALSE). Without that shift a point
 * raster would compare as misaligned with the area raster GDAL says it matches.
 */
export function geotransformOf(ref: GeoReference): Geotransform | null {
	const transform = affineOf(ref);
	if (transform !== null && parseGeoKeys(ref).get(GT_RASTER_TYPE_KEY) === RASTER_PIXEL_IS_POINT) {
		transform[0] -= (transform[1] + transform[2]) / 2;
		transform[3] -= (transform[4] + transform[5]) / 2;
	}
	return transform;
}

/**
 * The georeference of a window of the raster starting at pixel (`column`, `row`): the same tags,
 * with the tiepoint (or the transformation's translation) moved so that the window's first pixel
 * lies where it lay in the whole raster. PixelIsPoint and the CRS are kept as they are.
 */
export function windowGeoReference(ref: GeoReference, column: number, row: number): GeoReference {
	if (column === 0 && row === 0) return ref;
	const [scaleX, scaleY] = ref.modelPixelScale ?? [];
	if (scaleX && scaleY && (ref.modelTiepoint?.length ?? 0) >= 6) {
		// With a pixel scale only the first tiepoint places the raster (as GDAL reads it).
		const [pixel = 0, line = 0, k = 0, x = 0, y = 0, z = 0] = ref.modelTiepoint ?? [];
		const tiepoint = [0, 0, k, x + (column - pixel) * scaleX, y - (row - line) * Math.abs(scaleY), z];
		return { ...ref, modelTiepoint: tiepoint };
	}
	const matrix = ref.modelTransformation;
	if (matrix?.length !== 16) return ref;
	const moved = [...matrix];
	moved[3] = (matrix[3] ?? 0) + (matrix[0] ?? 0) * column + (matrix[1] ?? 0) * row;
	moved[7] = (matrix[7] ?? 0) + (matrix[4] ?? 0) * column + (matrix[5] ?? 0) * row;
	return { ...ref, modelTransformation: moved };
}

/** The transform as the tags state it, before any PixelIsPoint shift. */
function affineOf(ref: GeoReference): Geotransform | null {
	const [scaleX, scaleY] = ref.modelPixelScale ?? [];
	// GDAL takes the scale branch whenever both scales are non-zero, even if tiepoints are missing.
	if (scaleX && scaleY) {
		const tiepoint = ref.modelTiepoint ?? [];
		if (tiepoint.length < 6) return null;
		const [pixel = 0, line = 0, , x = 0, y = 0] = tiepoint;
		const pixelHeight = -Math.abs(scaleY);
		return [x - pixel * scaleX, scaleX, 0, y - line * pixelHeight, 0, pixelHeight];
	}
	const matrix = ref.modelTransformation;
	if (matrix?.length !== 16) return null;
	const [a = 0, b = 0, , c = 0, d = 0, e = 0, , f = 0] = matrix;
	return [c, a, b, f, d, e];
}

/**
 * Whether two geotransforms describe the same pixel grid. Each coefficient may differ by
 * 1e-9 of a pixel: deriving a transform (tiepoint minus offset, half-pixel shift, a decimal
 * round trip) perturbs it by a few ulps, while a real misregistration is a sizeable fraction
 * of a pixel. Where 1e-9 of a pixel is below the coordinate's own precision (small pixels far
 * from the origin) the bound is raised to 8 ulps of the coordinate.
 */
export function sameGeotransform(a: Geotransform, b: Geotransform): boolean {
	const pixelSize = Math.min(
		Math.hypot(a[1], a[4]),
		Math.hypot(a[2], a[5]),
		Math.hypot(b[1], b[4]),
		Math.hypot(b[2], b[5]),
	);
	return a.every((value, i) => {
		const other = b[i] ?? Number.NaN;
		const tolerance = Math.max(1e-9 * pixelSize, 8 * Number.EPSILON * Math.max(Math.abs(value), Math.abs(other)));
		return Math.abs(value - other) <= tolerance;
	});
}

function sameGeoKeyValue(a: GeoKeyValue, b: GeoKeyValue): boolean {
	if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((value, i) => value === b[i]);
	return a === b;
}

/**
 * Whether two georeferences declare the same CRS: the same CRS-defining GeoKeys with the
 * same values (DOUBLE and ASCII references resolved, so storage layout does not matter).
 * Citations and GTRasterType are ignored (see {@link KEYS_NOT_DEFINING_CRS}). The comparison
 * is literal: a CRS spelled out in parameters does not equal the same CRS given as an EPSG
 * code. Two rasters without GeoKeys compare equal; callers decide whether that is acceptable.
 */
export function sameCrs(a: GeoReference, b: GeoReference): boolean {
	const keysA = parseGeoKeys(a);
	const keysB = parseGeoKeys(b);
	for (const id of KEYS_NOT_DEFINING_CRS) {
		keysA.delete(id);
		keysB.delete(id);
	}
	if (keysA.size !== keysB.size) return false;
	for (const [id, value] of keysA) {
		const other = keysB.get(id);
		if (other === undefined || !sameGeoKeyValue(value, other)) return false;
	}
	return true;
}

const GT_MODEL_TYPE_KEY = 1024;
const GEOGRAPHIC_TYPE_KEY = 2048;
const PROJECTED_CS_TYPE_KEY = 3072;
const USER_DEFINED = 32767;
const MODEL_TYPE = { projected: 1, geographic: 2 } as const;

/**
 * The EPSG code the GeoKeys name for the raster's CRS (ProjectedCSTypeGeoKey for a projected
 * model, GeographicTypeGeoKey for a geographic one), or `null` when the CRS is user-defined or
 * not given. Without GTModelTypeGeoKey the projected code is preferred, as GDAL does.
 */
export function epsgCodeOf(ref: GeoReference): number | null {
	const keys = parseGeoKeys(ref);
	const modelType = keys.get(GT_MODEL_TYPE_KEY);
	const candidates =
		modelType === MODEL_TYPE.geographic ? [GEOGRAPHIC_TYPE_KEY] : [PROJECTED_CS_TYPE_KEY, GEOGRAPHIC_TYPE_KEY];
	if (modelType === MODEL_TYPE.projected) candidates.pop();
	for (const key of candidates) {
		const code = keys.get(key);
		if (typeof code === "number" && code > 0 && code !== USER_DEFINED) return code;
	}
	return null;
}

/** The CRS as a person reads it in an error: `EPSG:32633`, or what the GeoKeys leave it as. */
export function describeCrs(ref: GeoReference): string {
	const code = epsgCodeOf(ref);
	if (code !== null) return `EPSG:${code}`;
	return ref.geoKeyDirectory === null ? "no CRS (no GeoKeys)" : "a user-defined CRS";
}
