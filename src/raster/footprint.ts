/**
 * Where a raster grid lies on the globe: its outline in longitude/latitude, for a result's STAC
 * Item. The outline's edges are densified before they are transformed (through the same proj4
 * converters as areas of interest, src/raster/aoi.ts), since a straight edge in a projected CRS
 * is curved in longitude/latitude.
 */
import { lonLatConverter } from "./aoi";
import type { Grid } from "./grid";

/** A GeoJSON Polygon in longitude/latitude (RFC 7946: the exterior ring counterclockwise). */
export interface LonLatPolygon {
	type: "Polygon";
	coordinates: [number, number][][];
}

/** Points per edge of the outline, corners included (as an area of interest's bbox edges). */
const EDGE_POINTS = 21;

/**
 * Degrees are rounded to 1e-9 (a tenth of a millimetre), which keeps transform noise out of
 * the Item and loses nothing a footprint says.
 */
function degrees(value: number): number {
	return Math.round(value * 1e9) / 1e9;
}

/**
 * The grid's outline in longitude/latitude, or null when its CRS is not one proj4 is told here
 * (see aoi.ts) or a point of it has no place in longitude/latitude. The ring runs down the
 * left edge, along the bottom, up the right edge and back along the top: counterclockwise for a
 * north-up grid. An outline across the antimeridian is not split.
 */
export function gridFootprint(grid: Grid): LonLatPolygon | null {
	const converter = lonLatConverter(grid.crs);
	if (converter === null) return null;
	const [originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight] = grid.geotransform;
	const at = (column: number, row: number): [number, number] => [
		originX + column * pixelWidth + row * rowRotation,
		originY + column * columnRotation + row * pixelHeight,
	];
	const corners: [number, number][] = [
		[0, 0],
		[0, grid.height],
		[grid.width, grid.height],
		[grid.width, 0],
	];
	const ring: [number, number][] = [];
	for (let side = 0; side < corners.length; side++) {
		const [fromColumn, fromRow] = corners[side] ?? [0, 0];
		const [toColumn, toRow] = corners[(side + 1) % corners.length] ?? [0, 0];
		for (let k = 0; k < EDGE_POINTS - 1; k++) {
			const f = k / (EDGE_POINTS - 1);
			const [x, y] = at(fromColumn + (toColumn - fromColumn) * f, fromRow + (toRow - fromRow) * f);
			const [lon, lat] = converter.inverse([x, y]);
			if (lon === undefined || lat === undefined || !Number.isFinite(lon) || !Number.isFinite(lat)) return null;
			ring.push([degrees(lon), degrees(lat)]);
		}
	}
	const first = ring[0];
	if (!first) return null;
	ring.push([first[0], first[1]]);
	return { type: "Polygon", coordinates: [ring] };
}
