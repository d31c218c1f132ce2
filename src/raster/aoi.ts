/**
 * Areas of interest: the request's shape (GeoJSON Polygon or MultiPolygon in longitude/latitude,
 * RFC 7946, or a bbox), the window of a raster they cover, and which of its pixels they keep.
 *
 * Coordinates go into the raster's CRS through proj4 (named from the raster's GeoKeys), polygon
 * vertices one by one and bbox edges densified, since a straight lon/lat edge is curved in most
 * projections. A pixel is kept when its centre lies inside the polygon, the rule gdalwarp's
 * cutline (GDAL's rasterizer) follows.
 */
import { z } from "@hono/zod-openapi";
import proj4 from "proj4";
import { ApiError } from "../errors/api-error";
import { describeCrs, epsgCodeOf, type GeoReference } from "./georeference";
import type { Grid } from "./grid";
import type { PixelWindow } from "./read";

const Longitude = z
	.number()
	.min(-180, "longitude must be between -180 and 180")
	.max(180, "longitude must be between -180 and 180");
const Latitude = z
	.number()
	.min(-90, "latitude must be between -90 and 90")
	.max(90, "latitude must be between -90 and 90");
/** [longitude, latitude], an altitude allowed (and ignored) as RFC 7946 permits. */
const Position = z.tuple([Longitude, Latitude], z.number());

const LinearRing = z
	.array(Position)
	.min(4, "a linear ring needs at least 4 positions")
	.refine((ring) => {
		const first = ring[0];
		const last = ring.at(-1);
		return first !== undefined && last !== undefined && first[0] === last[0] && first[1] === last[1];
	}, "a linear ring must end at its first position (closed)");
const PolygonCoordinates = z.array(LinearRing).min(1, "a polygon needs an exterior ring");

export const AoiPolygonSchema = z
	.object({ type: z.literal("Polygon"), coordinates: PolygonCoordinates })
	.openapi("AoiPolygon", {
		description: "A GeoJSON Polygon in longitude/latitude (RFC 7946): exterior ring first, then holes",
	});

export const AoiMultiPolygonSchema = z
	.object({ type: z.literal("MultiPolygon"), coordinates: z.array(PolygonCoordinates).min(1, "needs a polygon") })
	.openapi("AoiMultiPolygon", { description: "A GeoJSON MultiPolygon in longitude/latitude (RFC 7946)" });

export const AoiBboxSchema = z
	.object({
		bbox: z
			.array(z.number())
			.length(4, "bbox must be [west, south, east, north]")
			.superRefine((bbox, context) => {
				const [west, south, east, north] = bbox;
				if (west === undefined || south === undefined || east === undefined || north === undefined) return;
				const issue = (index: number, message: string) => context.addIssue({ code: "custom", path: [index], message });
				for (const [index, value] of [
					[0, west],
					[2, east],
				] as const) {
					if (Math.abs(value) > 180) issue(index, "longitude must be between -180 and 180");
				}
				for (const [index, value] of [
					[1, south],
					[3, north],
				] as const) {
					if (Math.abs(value) > 90) issue(index, "latitude must be between -90 and 90");
				}
				if (west >= east) {
					issue(
						0,
						"west must be less than east (a bbox across the antimeridian is not supported: send a MultiPolygon)",
					);
				}
				if (south >= north) issue(1, "south must be less than north");
			}),
	})
	.openapi("AoiBbox", {
		description: "A box in longitude/latitude: [west, south, east, north]",
		example: { bbox: [16.343176, 47.8297191, 16.354997, 47.8385446] },
	});

/** The area of interest as a request gives it. */
export const AoiSchema = z
	.union([AoiBboxSchema, z.discriminatedUnion("type", [AoiPolygonSchema, AoiMultiPolygonSchema])], {
		error: 'must be a GeoJSON Polygon or MultiPolygon in longitude/latitude, or { "bbox": [west, south, east, north] }',
	})
	.openapi("Aoi");

export type Aoi = z.infer<typeof AoiSchema>;

/** x, y in the raster's CRS. */
export type Point = [number, number];

/** An area of interest in the raster's CRS. */
export interface AoiInRasterCrs {
	/** Polygons, each its rings (exterior first, then holes); null for a bbox, which keeps every pixel of its window. */
	polygons: Point[][][] | null;
	/** minX, minY, maxX, maxY of the transformed vertices (for a bbox: of its densified edges). */
	extent: [number, number, number, number];
}

export interface AoiWindow {
	window: PixelWindow;
	inRasterCrs: AoiInRasterCrs;
}

const LONLAT = "EPSG:4326";
/** Points per bbox edge, corners included: enough that a UTM or Mercator edge's bulge is inside a pixel. */
const BBOX_EDGE_POINTS = 21;
const SUPPORTED_CRSS =
	"EPSG:4326, 4258, 4269 (geographic), 3857, WGS 84 UTM (326xx, 327xx), ETRS89 UTM (258xx), NAD83 UTM (269xx), GDA94 and GDA2020 MGA (283xx, 78xx), 3035, 2154, 27700, 5070, 3577, 2193";

/**
 * National and continental grids archives are delivered in, as PROJ defines them (each checked
 * against GDAL's transform of a point to the millimetre). GRS80 datums are taken as WGS 84, as
 * PROJ's own transformations between them do to within a metre; OSGB36 with its published
 * seven-parameter shift.
 */
const NAMED_GRIDS: Record<number, string> = {
	// ETRS89-extended / LAEA Europe
	3035: "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
	// RGF93 / Lambert-93
	2154: "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=700000 +y_0=6600000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
	// OSGB36 / British National Grid
	27700:
		"+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy +towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs",
	// NAD83 / Conus Albers
	5070: "+proj=aea +lat_0=23 +lon_0=-96 +lat_1=29.5 +lat_2=45.5 +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
	// GDA94 / Australian Albers
	3577: "+proj=aea +lat_0=0 +lon_0=132 +lat_1=-18 +lat_2=-36 +x_0=0 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
	// NZGD2000 / New Zealand Transverse Mercator
	2193: "+proj=tmerc +lat_0=0 +lon_0=173 +k=0.9996 +x_0=1600000 +y_0=10000000 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs",
};

/** The proj4 definition of a CRS the GeoKeys name by EPSG code, or null when it is not one supported here. */
function proj4Definition(code: number | null): string | null {
	if (code === null) return null;
	if (code === 4326) return LONLAT;
	// ETRS89 and NAD83 coincide with WGS 84 within a metre or so; PROJ's EPSG transformations say so too.
	if (code === 4258 || code === 4269) return "+proj=longlat +ellps=GRS80 +towgs84=0,0,0 +no_defs";
	if (code === 3857) return "EPSG:3857";
	if (code >= 32601 && code <= 32660) return `+proj=utm +zone=${code - 32600} +datum=WGS84 +units=m +no_defs`;
	if (code >= 32701 && code <= 32760) return `+proj=utm +zone=${code - 32700} +south +datum=WGS84 +units=m +no_defs`;
	if (code >= 25801 && code <= 25860) {
		return `+proj=utm +zone=${code - 25800} +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
	}
	if (code >= 26901 && code <= 26923) return `+proj=utm +zone=${code - 26900} +datum=NAD83 +units=m +no_defs`;
	// GDA94 MGA zones 48 to 58, GDA2020 MGA zones 46 to 59: UTM south on GRS80.
	const mgaZone = code >= 28348 && code <= 28358 ? code - 28300 : code >= 7846 && code <= 7859 ? code - 7800 : null;
	if (mgaZone !== null)
		return `+proj=utm +zone=${mgaZone} +south +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs`;
	return NAMED_GRIDS[code] ?? null;
}

function lonLatPoints(aoi: Aoi): { polygons: [number, number][][][] | null; points: [number, number][] } {
	if ("bbox" in aoi) {
		const [west = 0, south = 0, east = 0, north = 0] = aoi.bbox;
		const points: [number, number][] = [];
		for (let k = 0; k < BBOX_EDGE_POINTS; k++) {
			const f = k / (BBOX_EDGE_POINTS - 1);
			const lon = west + (east - west) * f;
			const lat = south + (north - south) * f;
			points.push([lon, south], [lon, north], [west, lat], [east, lat]);
		}
		return { polygons: null, points };
	}
	const polygons = (aoi.type === "Polygon" ? [aoi.coordinates] : aoi.coordinates).map((polygon) =>
		polygon.map((ring) => ring.map(([lon, lat]): [number, number] => [lon, lat])),
	);
	return { polygons, points: polygons.flat(2) };
}

/**
 * Converters from longitude/latitude by target definition. Making one parses both definitions,
 * which costs more than transforming a field's vertices: a zonal job transforms thousands of
 * fields, on every date and in every window, into the same CRS. Converters hold no state.
 */
const converters = new Map<string, proj4.Converter>();

function converterTo(definition: string): proj4.Converter {
	let converter = converters.get(definition);
	if (!converter) {
		converter = proj4(LONLAT, definition);
		converters.set(definition, converter);
	}
	return converter;
}

/**
 * The converter between longitude/latitude (forward) and the CRS the GeoKeys name (inverse), or
 * null when that CRS is not one proj4 is told here.
 */
export function lonLatConverter(crs: GeoReference): proj4.Converter | null {
	return projectionInto(crs)?.converter ?? null;
}

/** What a problem calls the geometry being projected, and where it stands in the request. */
export interface ProjectedSubject {
	/** As a problem's detail names it: "the area of interest". */
	name: string;
	/** As a problem's message says what it is for: "an area of interest". */
	purpose: string;
	path: string;
}

const AREA_OF_INTEREST: ProjectedSubject = {
	name: "the area of interest",
	purpose: "an area of interest",
	path: "aoi",
};

/** Degrees to radians: the same double as proj4's D2R, by which its transform takes longitude/latitude to radians. */
const RADIANS_PER_DEGREE = Math.PI / 180;

type Projection = ReturnType<typeof proj4.Proj>;

/**
 * WGS 84 / UTM zones' projections by EPSG code. From longitude/latitude on WGS 84, proj4's
 * transform only takes degrees to radians before the projection's forward (one datum, no prime
 * meridian, metres): called directly, the same arithmetic costs a third of the transform, which
 * copies the point three times on the way. The projection is proj4's own, so the coordinates are
 * the same to the bit (test/unit/aoi.test.ts compares them over every zone).
 */
const utmProjections = new Map<number, Projection>();

function wgs84UtmProjection(code: number | null): Projection | null {
	if (code === null || !((code >= 32601 && code <= 32660) || (code >= 32701 && code <= 32760))) return null;
	let projection = utmProjections.get(code);
	if (!projection) {
		projection = proj4.Proj(proj4Definition(code) as string);
		utmProjections.set(code, projection);
	}
	return projection;
}

/**
 * What projecting into a CRS takes, by the GeoReference object: a zonal job projects each of
 * thousands of fields on its own, all onto one grid, and parsing the GeoKeys for each cost as much
 * as projecting a small field. Georeferences are read from files or plans and never changed.
 */
const projectionsByCrs = new WeakMap<GeoReference, { converter: proj4.Converter; utm: Projection | null } | null>();

function projectionInto(crs: GeoReference): { converter: proj4.Converter; utm: Projection | null } | null {
	let found = projectionsByCrs.get(crs);
	if (found === undefined) {
		const code = epsgCodeOf(crs);
		const definition = proj4Definition(code);
		found = definition === null ? null : { converter: converterTo(definition), utm: wgs84UtmProjection(code) };
		projectionsByCrs.set(crs, found);
	}
	return found;
}

/**
 * The function taking a longitude and latitude into the raster's CRS, for the area of interest
 * (or another geometry, named by `subject`). Throws ApiError `unsupported-raster` naming the
 * subject's path and the CRS when the raster's CRS is not one proj4 is told here; the function
 * throws `aoi-outside-raster` when a vertex has no place in that CRS (e.g. a pole in Web Mercator).
 */
export function lonLatProjection(
	crs: GeoReference,
	subject: ProjectedSubject = AREA_OF_INTEREST,
): (lon: number, lat: number) => { x: number; y: number } {
	const projection = projectionInto(crs);
	if (projection === null) {
		throw new ApiError(
			"unsupported-raster",
			`${subject.name} cannot be projected into the raster's CRS (${describeCrs(crs)}); supported: ${SUPPORTED_CRSS}`,
			{
				errors: [
					{
						path: subject.path,
						message: `the raster's CRS (${describeCrs(crs)}) is not supported for ${subject.purpose}`,
					},
				],
			},
		);
	}
	const outsideDomain = (lon: number, lat: number) =>
		new ApiError("aoi-outside-raster", `(${lon}, ${lat}) has no place in the raster's CRS (${describeCrs(crs)})`, {
			errors: [{ path: subject.path, message: `(${lon}, ${lat}) lies outside the domain of ${describeCrs(crs)}` }],
		});
	// A field set's tens of thousands of vertices are projected on every grid: UTM, the usual
	// grid, takes the short way, and others {x, y} points, which proj4 would make of [x, y].
	const { converter, utm } = projection;
	if (utm) {
		return function projectToUtm(lon, lat) {
			const point = utm.forward({ x: lon * RADIANS_PER_DEGREE, y: lat * RADIANS_PER_DEGREE, z: 0 });
			if (!(point && Number.isFinite(point.x) && Number.isFinite(point.y))) throw outsideDomain(lon, lat);
			return point;
		};
	}
	return function project(lon, lat) {
		const point = converter.forward({ x: lon, y: lat });
		if (!Number.isFinite(point.x) || !Number.isFinite(point.y)) throw outsideDomain(lon, lat);
		return point;
	};
}

/**
 * Transforms the area of interest (or another geometry, named by `subject`) into the raster's
 * CRS, refusing as {@link lonLatProjection} does.
 */
export function aoiInCrs(aoi: Aoi, crs: GeoReference, subject: ProjectedSubject = AREA_OF_INTEREST): AoiInRasterCrs {
	const project = lonLatProjection(crs, subject);
	const { polygons, points } = lonLatPoints(aoi);
	const extent: [number, number, number, number] = [
		Number.POSITIVE_INFINITY,
		Number.POSITIVE_INFINITY,
		Number.NEGATIVE_INFINITY,
		Number.NEGATIVE_INFINITY,
	];
	const projected = (polygons ?? [[points]]).map((polygon) =>
		polygon.map((ring) =>
			ring.map(([lon, lat]): Point => {
				const { x, y } = project(lon, lat);
				extent[0] = Math.min(extent[0], x);
				extent[1] = Math.min(extent[1], y);
				extent[2] = Math.max(extent[2], x);
				extent[3] = Math.max(extent[3], y);
				return [x, y];
			}),
		),
	);
	return { polygons: polygons === null ? null : projected, extent };
}

/** A coordinate within this share of a pixel of a pixel edge is on it: transforms carry float noise. */
const EDGE_SNAP = 1e-9;

export function snapped(value: number): number {
	const rounded = Math.round(value);
	return Math.abs(value - rounded) < EDGE_SNAP ? rounded : value;
}

/**
 * The smallest window of whole pixels of `grid` covering the area of interest's extent in the
 * raster's CRS, cut to the raster. Throws ApiError `aoi-outside-raster` naming `aoi` when they do
 * not overlap (and see {@link aoiInCrs}).
 */
export function aoiWindow(aoi: Aoi, grid: Grid): AoiWindow {
	const inRasterCrs = aoiInCrs(aoi, grid.crs);
	const [originX, pixelWidth, , originY, , pixelHeight] = grid.geotransform;
	const [minX, minY, maxX, maxY] = inRasterCrs.extent;
	const window = {
		colStart: Math.max(0, Math.floor(snapped((minX - originX) / pixelWidth))),
		colEnd: Math.min(grid.width, Math.ceil(snapped((maxX - originX) / pixelWidth))),
		rowStart: Math.max(0, Math.floor(snapped((maxY - originY) / pixelHeight))),
		rowEnd: Math.min(grid.height, Math.ceil(snapped((minY - originY) / pixelHeight))),
	};
	if (window.colEnd <= window.colStart || window.rowEnd <= window.rowStart) {
		const extent = inRasterCrs.extent.map((value) => Number(value.toFixed(3))).join(", ");
		throw new ApiError(
			"aoi-outside-raster",
			`the area of interest (${extent} in ${describeCrs(grid.crs)}) does not overlap the raster`,
			{ errors: [{ path: "aoi", message: "does not overlap the raster" }] },
		);
	}
	return { window, inRasterCrs };
}

/**
 * Which pixels of `window` the area of interest keeps: 1 where the pixel's centre lies inside a
 * polygon (even-odd over its rings, so holes are left out; a MultiPolygon's polygons are joined,
 * so overlapping ones still keep their overlap), 0 elsewhere; row-major, the window's size. A
 * centre on a left edge is inside and on a right edge outside, as GDAL's rasterizer has it. Each
 * row takes the crossings of its centre line with the edges. Null for a bbox: every pixel is kept.
 */
export function aoiCentreMask(aoi: AoiInRasterCrs, grid: Grid, window: PixelWindow): Uint8Array | null {
	if (aoi.polygons === null) return null;
	const [originX, pixelWidth, , originY, , pixelHeight] = grid.geotransform;
	const width = window.colEnd - window.colStart;
	const height = window.rowEnd - window.rowStart;
	const mask = new Uint8Array(width * height);
	const crossings: number[] = [];
	for (const polygon of aoi.polygons) {
		// Edges in pixel coordinates of the window: x1, y1, x2, y2 per edge.
		const edges = Float64Array.from(
			polygon.flatMap((ring) =>
				ring.slice(1).flatMap((point, i) => {
					const previous = ring[i] ?? point;
					return [
						(previous[0] - originX) / pixelWidth - window.colStart,
						(previous[1] - originY) / pixelHeight - window.rowStart,
						(point[0] - originX) / pixelWidth - window.colStart,
						(point[1] - originY) / pixelHeight - window.rowStart,
					];
				}),
			),
		);
		for (let row = 0; row < height; row++) {
			const y = row + 0.5;
			crossings.length = 0;
			for (let e = 0; e < edges.length; e += 4) {
				const x1 = edges[e] ?? 0;
				const y1 = edges[e + 1] ?? 0;
				const x2 = edges[e + 2] ?? 0;
				const y2 = edges[e + 3] ?? 0;
				if (y1 <= y === y2 <= y) continue;
				crossings.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
			}
			crossings.sort((a, b) => a - b);
			for (let k = 0; k + 1 < crossings.length; k += 2) {
				const from = Math.max(0, Math.ceil((crossings[k] ?? 0) - 0.5));
				const to = Math.min(width, Math.ceil((crossings[k + 1] ?? 0) - 0.5));
				if (to > from) mask.fill(1, row * width + from, row * width + to);
			}
		}
	}
	return mask;
}
