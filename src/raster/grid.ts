/**
 * Pixel grids, and how inputs of different resolutions are put on one target grid.
 *
 * Inputs share a target grid when they are in one CRS, north-up, with pixel sizes that are
 * integer multiples of the finest one and origins on the finest grid (Sentinel-2's 10/20/60 m,
 * Landsat's 15/30 m). Each input's place on the target is then exact: lengths along an axis are
 * counted in whole units of the finest input's pixel, so resampling never meets rounding error
 * when it decides which source pixel holds a target pixel's centre.
 */
import { ApiError, type FieldError } from "../errors/api-error";
import { describeCrs, type GeoReference, type Geotransform, sameCrs } from "./georeference";

/** A north-up raster grid: where its pixels lie, how many there are, in which CRS. */
export interface Grid {
	/** GDAL order; rotation terms 0 and pixel height negative for a grid targetGrid accepts. */
	geotransform: Geotransform;
	width: number;
	height: number;
	/** The raster's georeference; CRSs compare with {@link sameCrs}. */
	crs: GeoReference;
}

export interface GridInput {
	name: string;
	grid: Grid;
}

/**
 * One axis of an input laid on the target grid, in units of the finest input's pixel along that
 * axis (all three are integers). Target pixel i spans units [i * targetStep, (i + 1) * targetStep)
 * from the target's first pixel edge; source pixel j spans
 * [offset + j * sourceStep, offset + (j + 1) * sourceStep). Rows count southward.
 */
export interface AxisMapping {
	targetStep: number;
	sourceStep: number;
	offset: number;
}

/** How one input's pixels map onto the target grid. */
export interface InputMapping {
	name: string;
	/** The input's own grid. */
	grid: Grid;
	/** Whether the input's pixels are larger ("coarser"), smaller ("finer") or the target's size ("same"). */
	scale: "coarser" | "finer" | "same";
	/** Target pixels per source pixel along an axis (coarser), source pixels per target pixel (finer), or 1. */
	factor: number;
	/** Where the input's first pixel lies, in target pixels (coarser, same) or source pixels (finer); rows southward. */
	colOffset: number;
	rowOffset: number;
	columns: AxisMapping;
	rows: AxisMapping;
	/**
	 * The target window is the same window of the input's pixels (same grid, the input at least
	 * as large as the target): read it as is, without resampling.
	 */
	identity: boolean;
}

export interface TargetGrid {
	/** The name of the input whose grid is the target. */
	like: string;
	grid: Grid;
	/** One per input, in the order given. */
	inputs: InputMapping[];
}

/**
 * A pixel size or offset is a whole number of finest pixels when it is within this share of a
 * pixel of one: derived geotransforms carry a few ulps of error, a misregistration far more.
 */
const WHOLE_PIXEL_TOLERANCE = 1e-6;

function wholeUnits(length: number, unit: number): number | null {
	const units = length / unit;
	const rounded = Math.round(units);
	return Math.abs(units - rounded) <= WHOLE_PIXEL_TOLERANCE ? rounded : null;
}

function describeGrid({ name, grid }: GridInput): string {
	const [originX, pixelWidth, rowRotation, originY, columnRotation, pixelHeight] = grid.geotransform;
	const rotation = rowRotation !== 0 || columnRotation !== 0 ? `, rotation (${rowRotation}, ${columnRotation})` : "";
	return `'${name}' has origin (${originX}, ${originY}), pixel ${pixelWidth} x ${Math.abs(pixelHeight)}${rotation}, ${grid.width} x ${grid.height} pixels, ${describeCrs(grid.crs)}`;
}

function mismatch(a: GridInput, b: GridInput, reason: string): ApiError {
	const errors: FieldError[] = [
		{ path: `inputs.${a.name}`, message: `not on the grid of inputs.${b.name}: ${reason}` },
		{ path: `inputs.${b.name}`, message: `not on the grid of inputs.${a.name}: ${reason}` },
	];
	return new ApiError(
		"raster-mismatch",
		`inputs '${a.name}' and '${b.name}' cannot share one grid (${reason}): ${describeGrid(a)}; ${describeGrid(b)}`,
		{ errors },
	);
}

function isNorthUp([, pixelWidth, rowRotation, , columnRotation, pixelHeight]: Geotransform): boolean {
	return rowRotation === 0 && columnRotation === 0 && pixelWidth > 0 && pixelHeight < 0;
}

/** Lengths of one input along an axis in the finest input's units, or why they are not whole units. */
interface AxisUnits {
	step: number;
	/** The input's first pixel edge minus the finest input's, in units (southward for rows). */
	origin: number;
}

function axisUnits(
	pixel: number,
	origin: number,
	finestPixel: number,
	finestOrigin: number,
	axis: "column" | "row",
): AxisUnits | string {
	const step = wholeUnits(pixel, finestPixel);
	if (step === null || step < 1) {
		return `${axis} pixel sizes ${pixel} and ${finestPixel} are not integer multiples of each other`;
	}
	const originUnits = wholeUnits(axis === "column" ? origin - finestOrigin : finestOrigin - origin, finestPixel);
	if (originUnits === null) {
		return `the ${axis === "column" ? "x" : "y"} origins ${origin} and ${finestOrigin} are not a whole number of ${finestPixel} pixels apart`;
	}
	return { step, origin: originUnits };
}

function inputMapping(input: GridInput, columns: AxisMapping, rows: AxisMapping, target: Grid): InputMapping {
	const coarser = columns.sourceStep > columns.targetStep;
	const finer = columns.sourceStep < columns.targetStep;
	const finerStep = Math.min(columns.sourceStep, columns.targetStep);
	const finerRowStep = Math.min(rows.sourceStep, rows.targetStep);
	return {
		name: input.name,
		grid: input.grid,
		scale: coarser ? "coarser" : finer ? "finer" : "same",
		factor: Math.max(columns.sourceStep, columns.targetStep) / finerStep,
		colOffset: columns.offset / finerStep,
		rowOffset: rows.offset / finerRowStep,
		columns,
		rows,
		identity:
			columns.sourceStep === columns.targetStep &&
			rows.sourceStep === rows.targetStep &&
			columns.offset === 0 &&
			rows.offset === 0 &&
			input.grid.width >= target.width &&
			input.grid.height >= target.height,
	};
}

/**
 * Puts the inputs on one target grid: the grid of input `like` if given, else the finest input's
 * (the first among equals). The target's extent is that grid's own; target pixels outside an
 * input's extent read as nodata for it.
 *
 * Throws ApiError `raster-mismatch` (naming both inputs and their grids, with field errors
 * `inputs.<name>`) for different CRSs, rotated or south-up grids, pixel sizes that are not integer
 * multiples of the finest one and of the target's (with the same ratio along columns and rows),
 * or origins off the finest grid; `validation-failed` at `grid.like` when `like` names no input.
 */
export function targetGrid(inputs: readonly GridInput[], like?: string): TargetGrid {
	if (inputs.length === 0) throw new RangeError("targetGrid needs at least one input");
	const rotated = inputs.find((input) => !isNorthUp(input.grid.geotransform));
	if (rotated !== undefined) {
		const other = inputs.find((input) => input !== rotated) ?? rotated;
		throw mismatch(rotated, other, `the grid of '${rotated.name}' is rotated or not north-up`);
	}
	const finest = inputs.reduce((best, input) =>
		input.grid.geotransform[1] < best.grid.geotransform[1] ? input : best,
	);
	const chosen = like === undefined ? finest : inputs.find((input) => input.name === like);
	if (chosen === undefined) {
		throw new ApiError("validation-failed", `grid.like: '${like}' names no input`, {
			errors: [{ path: "grid.like", message: `must name an input (${inputs.map((input) => input.name).join(", ")})` }],
		});
	}
	const [finestX, finestWidth, , finestY, , finestHeight] = finest.grid.geotransform;
	const place = (input: GridInput): { columns: AxisUnits; rows: AxisUnits } => {
		if (!sameCrs(input.grid.crs, finest.grid.crs)) {
			throw mismatch(input, finest, "their coordinate reference systems differ");
		}
		const [x, width, , y, , height] = input.grid.geotransform;
		const columns = axisUnits(width, x, finestWidth, finestX, "column");
		if (typeof columns === "string") throw mismatch(input, finest, columns);
		const rows = axisUnits(-height, y, -finestHeight, finestY, "row");
		if (typeof rows === "string") throw mismatch(input, finest, rows);
		if (columns.step !== rows.step) {
			throw mismatch(input, finest, "the ratio of their pixel sizes differs between columns and rows");
		}
		return { columns, rows };
	};
	const target = place(chosen);
	const onTarget = (source: AxisUnits, of: AxisUnits): AxisMapping => ({
		targetStep: of.step,
		sourceStep: source.step,
		offset: source.origin - of.origin,
	});
	return {
		like: chosen.name,
		grid: chosen.grid,
		inputs: inputs.map((input) => {
			const { columns, rows } = place(input);
			const larger = Math.max(columns.step, target.columns.step);
			if (larger % Math.min(columns.step, target.columns.step) !== 0) {
				throw mismatch(input, chosen, "their pixel sizes are not integer multiples of each other");
			}
			return inputMapping(input, onTarget(columns, target.columns), onTarget(rows, target.rows), chosen.grid);
		}),
	};
}
