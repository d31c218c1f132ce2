/**
 * How much of each pixel a feature covers, the geometry of per-feature ("zonal") statistics.
 *
 * Polygons come in pixel coordinates of a grid ([column, row] as floats, rows downward). Their
 * boundary is walked once, edge by edge, row by row and column by column, as font rasterizers and
 * exactextract do: each piece of an edge inside a pixel deposits the exact area of the trapezoid
 * between it and the pixel's right side, and everything right of the pixel in that row gains the
 * piece's height. A prefix sum along each row then gives every pixel's covered area, exact up to
 * float64 rounding, in time proportional to the perimeter plus the pixels of the bbox. Rings are
 * given one orientation (shells add, holes subtract), so their order and winding do not matter.
 */
import { emptyBounds, extendBounds } from "../bounds";
import { type Aoi, lonLatProjection, type Point, type ProjectedSubject, snapped } from "./aoi";
import type { Grid } from "./grid";
import type { PixelWindow } from "./read";

/**
 * Which weight a pixel gets: "fraction", the share of its area inside the feature; "center", 1
 * when its centre is inside (openEO's rule, GDAL's default rasterization); "all_touched", 1 when
 * any of its area is inside (GDAL's ALL_TOUCHED, see {@link pixelCoverage} for where it differs).
 */
export type CoverageRule = "fraction" | "center" | "all_touched";

/** A feature's weights over a block of pixels: row-major, `width` x `height`, from (rowStart, colStart). */
export interface PixelCoverage {
	rowStart: number;
	colStart: number;
	width: number;
	height: number;
	weights: Float64Array;
}

/** A feature's geometry as a request gives it: a GeoJSON Polygon or MultiPolygon in longitude/latitude. */
export type FeatureGeometry = Exclude<Aoi, { bbox: number[] }>;

/**
 * The feature's polygons in pixel coordinates of a north-up grid: each vertex transformed into the
 * grid's CRS as {@link lonLatProjection} does (and refused as it refuses, naming `subject`), not
 * densified, then into [column, row] with the pixel's top-left corner at integers.
 */
export function polygonsInPixels(geometry: FeatureGeometry, grid: Grid, subject?: ProjectedSubject): Point[][][] {
	const [originX, pixelWidth, , originY, , pixelHeight] = grid.geotransform;
	const project = lonLatProjection(grid.crs, subject);
	const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
	return polygons.map((polygon) =>
		polygon.map((ring) =>
			ring.map((position): Point => {
				const { x, y } = project(position[0], position[1]);
				// Snapped, so an edge drawn on a pixel border (float noise aside) gives the pixel beyond it no weight.
				return [snapped((x - originX) / pixelWidth), snapped((y - originY) / pixelHeight)];
			}),
		),
	);
}

/** One ring's edges in the block's pixel coordinates, each with the sign that makes shells add. */
interface SignedRing {
	points: Point[];
	/** +1 or -1: multiplies the height of an edge going down the rows. */
	sign: number;
	/** +1 when the ring turns clockwise on screen (rows down), so its bottom edges run leftward; else -1. */
	turn: number;
}

/**
 * What a missing point reads as. Points are read by index rather than destructured throughout:
 * zonal jobs place and weigh every vertex of every field mostly before V8 optimizes these
 * functions, and unoptimized each destructuring steps an array iterator (bench:fields).
 */
const ORIGIN: Point = [0, 0];

/** Twice the signed area (shoelace), relative to the first vertex for precision. */
export function doubledArea(ring: readonly Point[]): number {
	const first = ring[0] ?? ORIGIN;
	const x0 = first[0];
	const y0 = first[1];
	let sum = 0;
	for (let i = 1; i + 1 < ring.length; i++) {
		const a = ring[i] ?? ORIGIN;
		const b = ring[i + 1] ?? ORIGIN;
		sum += (a[0] - x0) * (b[1] - y0) - (b[0] - x0) * (a[1] - y0);
	}
	return sum;
}

/**
 * Rings moved to the block's origin and signed: an edge going down the rows on a ring with positive
 * shoelace area (clockwise on screen, rows down) has the inside on its left, so that ring's shells
 * take sign -1; holes take the opposite of a shell's. Rings of no area are left out.
 */
function signedRings(polygons: readonly Point[][][], colOrigin: number, rowOrigin: number): SignedRing[] {
	const rings: SignedRing[] = [];
	for (const polygon of polygons) {
		polygon.forEach((ring, index) => {
			const area = doubledArea(ring);
			if (area === 0 || !Number.isFinite(area)) return;
			const shellSign = area > 0 ? -1 : 1;
			rings.push({
				points: ring.map((point): Point => [point[0] - colOrigin, point[1] - rowOrigin]),
				sign: index === 0 ? shellSign : -shellSign,
				turn: area > 0 ? 1 : -1,
			});
		});
	}
	return rings;
}

/**
 * Deposits one piece of an edge lying in row `row` (from (xTop, yTop) down to (xBottom, yBottom),
 * yTop < yBottom, both within the row) into `cells`, and marks the pixels whose interior it
 * crosses in `touched`. `sign` orients it. Columns left of the block take the piece's whole height
 * at column 0; columns right of it take nothing.
 */
function depositPiece(
	cells: Float64Array,
	touched: Uint8Array,
	width: number,
	row: number,
	xTop: number,
	yTop: number,
	xBottom: number,
	yBottom: number,
	sign: number,
): void {
	const height = (yBottom - yTop) * sign;
	const base = row * width;
	const xLeft = Math.min(xTop, xBottom);
	const xRight = Math.max(xTop, xBottom);
	if (xLeft === xRight) {
		// Vertical: on a pixel border it covers nothing of the pixel left of it and crosses no interior.
		if (xLeft >= width) return;
		const column = Math.max(0, Math.floor(xLeft));
		const share = xLeft <= 0 ? 0 : xLeft - column;
		cells[base + column] = (cells[base + column] ?? 0) + height * (1 - share);
		if (column + 1 < width) cells[base + column + 1] = (cells[base + column + 1] ?? 0) + height * share;
		if (share > 0) touched[base + column] = 1;
		return;
	}
	const span = xRight - xLeft;
	if (xLeft < 0) {
		cells[base] = (cells[base] ?? 0) + (height * (Math.min(xRight, 0) - xLeft)) / span;
	}
	const start = Math.max(xLeft, 0);
	const end = Math.min(xRight, width);
	for (let column = Math.floor(start); column < end; column++) {
		const from = Math.max(start, column);
		const to = Math.min(end, column + 1);
		if (to <= from) continue;
		const part = (height * (to - from)) / span;
		// The trapezoid between this part and the pixel's right side, over the part's height.
		const share = (from + to) / 2 - column;
		cells[base + column] = (cells[base + column] ?? 0) + part * (1 - share);
		if (column + 1 < width) cells[base + column + 1] = (cells[base + column + 1] ?? 0) + part * share;
		// A sloped part of positive length inside one pixel of the row runs through its interior.
		touched[base + column] = 1;
	}
}

/** Per-pixel deposits whose running sum along a row gives the pixel's value, and pixels marked on the way. */
interface CellDeposits {
	cells: Float64Array;
	/** For areas: the pixels an edge runs through. For centres: those whose centre is on a ring's bottom edge. */
	marks: Uint8Array;
}

/**
 * The most pixels whose deposits {@link CoverageScratch.release} keeps (576 KiB): zonal compute's
 * scratch lives as long as the isolate, and a large field's 9 bytes a pixel would stay held
 * through the messages after it.
 */
const RETAINED_PIXELS = 65_536;

/**
 * The arrays {@link pixelCoverage} deposits into, kept from one feature to the next: weighing a
 * window's hundreds of fields otherwise allocates (and the collector frees) two arrays a field.
 * The weights pixelCoverage returns are a view of them, valid until its next call with the same
 * scratch.
 */
export class CoverageScratch {
	private cells = new Float64Array(0);
	private marks = new Uint8Array(0);

	/** Lets deposits larger than RETAINED_PIXELS go, at the end of a window. */
	release(): void {
		if (this.cells.length <= RETAINED_PIXELS) return;
		this.cells = new Float64Array(0);
		this.marks = new Uint8Array(0);
	}

	/** Zeroed deposits for `pixels` pixels. */
	take(pixels: number): CellDeposits {
		if (this.cells.length < pixels) {
			// Grown by half again at least, so a run of slightly larger fields does not grow it each time.
			const capacity = Math.max(pixels, Math.ceil(this.cells.length * 1.5));
			this.cells = new Float64Array(capacity);
			this.marks = new Uint8Array(capacity);
		}
		const cells = this.cells.subarray(0, pixels);
		const marks = this.marks.subarray(0, pixels);
		cells.fill(0);
		marks.fill(0);
		return { cells, marks };
	}
}

/** Walks every edge through the rows of the block, depositing area and marking touched pixels. */
function depositAreas(rings: readonly SignedRing[], width: number, height: number, deposits: CellDeposits): void {
	const { cells, marks: touched } = deposits;
	for (const { points, sign } of rings) {
		for (let i = 0; i < points.length; i++) {
			const from = points[i] ?? ORIGIN;
			const to = points[(i + 1) % points.length] ?? ORIGIN;
			const x0 = from[0];
			const y0 = from[1];
			const x1 = to[0];
			const y1 = to[1];
			if (y0 === y1) {
				// A horizontal edge adds no area, but inside a row it crosses the interiors it runs along.
				if (x0 === x1 || y0 <= 0 || y0 >= height || Number.isInteger(y0)) continue;
				const base = Math.floor(y0) * width;
				const last = Math.min(width, Math.ceil(Math.max(x0, x1)));
				for (let column = Math.max(0, Math.floor(Math.min(x0, x1))); column < last; column++) {
					touched[base + column] = 1;
				}
				continue;
			}
			// Walk from the upper end (smaller row) down; the sign keeps the edge's direction.
			const down = y1 > y0;
			const xUpper = down ? x0 : x1;
			const yUpper = down ? y0 : y1;
			const xLower = down ? x1 : x0;
			const yLower = down ? y1 : y0;
			const edgeSign = down ? sign : -sign;
			const slope = (xLower - xUpper) / (yLower - yUpper);
			const firstRow = Math.max(0, Math.floor(yUpper));
			const endRow = Math.min(height, Math.ceil(yLower));
			// Where the edge crosses a row line, its ends taken as they are. Written out rather than a
			// closure made per edge: this runs for every edge of every field of every window.
			let xTop = firstRow <= yUpper ? xUpper : xUpper + (firstRow - yUpper) * slope;
			for (let row = firstRow; row < endRow; row++) {
				const yTop = Math.max(yUpper, row);
				const yBottom = Math.min(yLower, row + 1);
				const xBottom = yBottom === yLower ? xLower : xUpper + (yBottom - yUpper) * slope;
				if (yBottom > yTop) depositPiece(cells, touched, width, row, xTop, yTop, xBottom, yBottom, edgeSign);
				xTop = xBottom;
			}
		}
	}
}

/**
 * Winding numbers at pixel centres, as GDAL's scanline fill decides them on a north-up grid: an
 * edge counts on the row whose centre line y satisfies min(y0, y1) <= y < max(y0, y1), and a
 * crossing at x opens or closes the pixels whose centre is past it, c + 0.5 > x. So a centre on a
 * top edge is inside and on a left edge outside; on a right edge it is inside, and on a bottom
 * edge outside unless that edge is horizontal and a ring's own bottom (its inside above), whose
 * centres GDAL fills separately ("do not skip bottom horizontal segments"): those are marked.
 */
function centreWinding(rings: readonly SignedRing[], width: number, height: number, deposits: CellDeposits): void {
	const { cells, marks } = deposits;
	for (const { points, sign, turn } of rings) {
		for (let i = 0; i < points.length; i++) {
			const from = points[i] ?? ORIGIN;
			const to = points[(i + 1) % points.length] ?? ORIGIN;
			const x0 = from[0];
			const y0 = from[1];
			const x1 = to[0];
			const y1 = to[1];
			if (y0 === y1) {
				const row = y0 - 0.5;
				if ((x1 - x0) * turn >= 0 || !Number.isInteger(row) || row < 0 || row >= height) continue;
				const last = Math.min(width, Math.floor(Math.max(x0, x1) + 0.5));
				for (let column = Math.max(0, Math.floor(Math.min(x0, x1) + 0.5)); column < last; column++) {
					marks[row * width + column] = 1;
				}
				continue;
			}
			const down = y1 > y0;
			const xUpper = down ? x0 : x1;
			const yUpper = down ? y0 : y1;
			const xLower = down ? x1 : x0;
			const yLower = down ? y1 : y0;
			const edgeSign = down ? sign : -sign;
			const firstRow = Math.max(0, Math.ceil(yUpper - 0.5));
			const endRow = Math.min(height, Math.ceil(yLower - 0.5));
			for (let row = firstRow; row < endRow; row++) {
				// GDAL's expression, so that a centre on a sloped edge falls on the side GDAL puts it.
				const x = ((row + 0.5 - yUpper) * (xLower - xUpper)) / (yLower - yUpper) + xUpper;
				const column = Math.max(0, Math.floor(x + 0.5));
				if (column < width) cells[row * width + column] = (cells[row * width + column] ?? 0) + edgeSign;
			}
		}
	}
}

/**
 * Turns the deposits into weights in place (in `cells`): each row's running sum of deposits is a pixel's
 * covered area, or for centres its winding number. A pixel no edge runs through is wholly in or
 * out, so its sum is 1 or 0 up to rounding. False when no pixel gets a weight above 0. Apart from
 * pixelCoverage, of typed arrays and numbers alone, so that V8 keeps this loop, run for every pixel of every
 * field's box, optimized from one window to the next.
 */
function settleWeights(
	cells: Float64Array,
	marks: Uint8Array,
	width: number,
	height: number,
	rule: CoverageRule,
): boolean {
	const centre = rule === "center";
	const allTouched = rule === "all_touched";
	let covered = false;
	for (let row = 0; row < height; row++) {
		let running = 0;
		const end = (row + 1) * width;
		for (let index = row * width; index < end; index++) {
			running += cells[index] as number;
			const marked = marks[index] === 1;
			let weight: number;
			if (centre) weight = marked || running > 0.5 ? 1 : 0;
			else if (!marked) weight = running > 0.5 ? 1 : 0;
			else weight = allTouched ? 1 : Math.min(1, Math.max(0, running));
			cells[index] = weight;
			if (weight > 0) covered = true;
		}
	}
	return covered;
}

/**
 * The whole pixels the polygons' shells span (their box, out to whole pixels), cut to `window`;
 * null when that leaves none. Only these pixels can weigh in the feature, whatever the rule.
 */
export function pixelBox(polygons: readonly (readonly Point[][])[], window: PixelWindow): PixelWindow | null {
	const bounds = emptyBounds();
	for (let p = 0; p < polygons.length; p++) extendBounds(bounds, (polygons[p] as readonly Point[][])[0] ?? []);
	const colStart = Math.max(window.colStart, Math.floor(bounds[0] as number));
	const colEnd = Math.min(window.colEnd, Math.ceil(bounds[2] as number));
	const rowStart = Math.max(window.rowStart, Math.floor(bounds[1] as number));
	const rowEnd = Math.min(window.rowEnd, Math.ceil(bounds[3] as number));
	return colEnd > colStart && rowEnd > rowStart ? { rowStart, rowEnd, colStart, colEnd } : null;
}

/**
 * The weights a feature gives the pixels of `window`, over the feature's pixel bbox cut to the
 * window; null when no pixel of the window gets a weight above 0.
 *
 * `polygons` are a MultiPolygon's coordinates in pixel coordinates of the grid (see
 * {@link polygonsInPixels}): each polygon its shell then its holes, rings in any orientation,
 * closed or not. Polygons of a MultiPolygon are taken not to overlap, as GeoJSON requires.
 *
 * "fraction" is exact: the area of (feature ∩ pixel) over the pixel's, clipped to [0, 1]. A pixel
 * no edge passes through is wholly in or out, so it gets exactly 1 or 0 rather than the rounding
 * noise of the running sum. "all_touched" gives 1 to every pixel whose interior meets the
 * feature's: an edge lying on a pixel border does not touch the pixel on its outer side, as with
 * GDAL; unlike GDAL, a pixel met at a single corner, or beyond the end of an edge that stops on its
 * border, is not touched, and an edge within 0.01 pixel of horizontal or vertical is not moved
 * onto the nearest one (GDAL's line walk does both). "center" follows GDAL's default rasterization
 * of a north-up grid exactly, ties included (see centreWinding).
 *
 * Given a `scratch`, the weights are a view of its arrays (see {@link CoverageScratch}).
 */
export function pixelCoverage(
	polygons: readonly Point[][][],
	rule: CoverageRule,
	window: PixelWindow,
	scratch: CoverageScratch = new CoverageScratch(),
): PixelCoverage | null {
	const box = pixelBox(polygons, window);
	if (!box) return null;
	const { colStart, colEnd, rowStart, rowEnd } = box;
	const width = colEnd - colStart;
	const height = rowEnd - rowStart;
	const rings = signedRings(polygons, colStart, rowStart);

	const deposits = scratch.take(width * height);
	if (rule === "center") centreWinding(rings, width, height, deposits);
	else depositAreas(rings, width, height, deposits);
	if (!settleWeights(deposits.cells, deposits.marks, width, height, rule)) return null;
	return { rowStart, colStart, width, height, weights: deposits.cells };
}
