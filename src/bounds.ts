/**
 * The box of positions, x and y (longitude and latitude, or columns and rows; any further
 * coordinate ignored), as [west, south, east, north] in a Float64Array that ring after ring
 * widens. One function of arrays and a typed array for every caller: written out per caller, each
 * loop ran cold or had V8 optimize its whole caller on the stack (bench:fields).
 */
export function emptyBounds(): Float64Array {
	return new Float64Array([Infinity, Infinity, -Infinity, -Infinity]);
}

/** Widens `bounds` to `positions`. Indexed, not iterated: it runs cold over every position of a job's fields. */
export function extendBounds(bounds: Float64Array, positions: readonly (readonly number[])[]): void {
	let west = bounds[0] as number;
	let south = bounds[1] as number;
	let east = bounds[2] as number;
	let north = bounds[3] as number;
	for (let i = 0; i < positions.length; i++) {
		const position = positions[i] as readonly number[];
		const x = position[0] as number;
		const y = position[1] as number;
		west = Math.min(west, x);
		south = Math.min(south, y);
		east = Math.max(east, x);
		north = Math.max(north, y);
	}
	bounds[0] = west;
	bounds[1] = south;
	bounds[2] = east;
	bounds[3] = north;
}

/** The box of every position of `rings`, as [west, south, east, north]. */
export function ringsBounds(rings: readonly (readonly (readonly number[])[])[]): [number, number, number, number] {
	const bounds = emptyBounds();
	for (let i = 0; i < rings.length; i++) extendBounds(bounds, rings[i] as readonly (readonly number[])[]);
	return [bounds[0] as number, bounds[1] as number, bounds[2] as number, bounds[3] as number];
}

/** The GeoJSON Polygon of the box [west, south, east, north], its ring counter-clockwise. */
export function boxPolygon([west, south, east, north]: readonly [number, number, number, number]): {
	type: "Polygon";
	coordinates: [number, number][][];
} {
	return {
		type: "Polygon",
		coordinates: [
			[
				[west, south],
				[east, south],
				[east, north],
				[west, north],
				[west, south],
			],
		],
	};
}
