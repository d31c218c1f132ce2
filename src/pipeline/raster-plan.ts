/**
 * The plan of a job whose windows read its inputs on one grid: the inputs as compute reads
 * them, and the raster cut into windows under the memory budget (./plan.ts). validate inspects
 * the inputs' headers for every process; a process plans its job from them with this.
 */
import type { GeoTIFFImage } from "geotiff";
import type { JobInputRecord } from "../db/job-inputs";
import type { JobRecord } from "../db/jobs";
import { ApiError } from "../errors/api-error";
import { type Aoi, aoiWindow } from "../raster/aoi";
import {
	type GeoReference,
	type Geotransform,
	geotransformOf,
	sameCrs,
	sameGeotransform,
	windowGeoReference,
} from "../raster/georeference";
import { type Grid, targetGrid } from "../raster/grid";
import { inputReadFailure } from "../raster/input-errors";
import { bandDataType, INTEGER_SAMPLE_TYPES, type RasterHeader } from "../raster/inspect";
import type { ResamplingMethod } from "../raster/resample";
import type { TiffStructure } from "../raster/tiff-structure";
import { type InputPlacement, type JobPlan, type PlannedInput, planStrips } from "./plan";

/** An input of the job with its file's header, as validate read it. */
export interface InspectedInput {
	input: JobInputRecord;
	image: GeoTIFFImage;
	header: RasterHeader;
	/** The file's structure: its blocks and the bytes each takes. */
	structure: TiffStructure;
}

/** Inputs without any georeference can only be read together pixel for pixel, at one size. */
function checkSameSize(inspected: readonly InspectedInput[]): ApiError | null {
	const [reference, ...others] = inspected;
	if (!reference) return null;
	const a = reference.header;
	for (const other of others) {
		const b = other.header;
		if (a.width === b.width && a.height === b.height) continue;
		return new ApiError(
			"raster-mismatch",
			`sizes differ: '${reference.input.name}' and '${other.input.name}' are ${a.width} x ${a.height} and ${b.width} x ${b.height} pixels, and neither is georeferenced`,
			{
				errors: [{ path: `inputs.${other.input.name}`, message: `not on the grid of inputs.${reference.input.name}` }],
			},
		);
	}
	return null;
}

/**
 * How an input on another grid is resampled unless its request says: nearest for the mask's
 * input, and for an integer input the formula compares or reads bitwise (`classInputs`: a class
 * or bit band); bilinearly for every other input.
 */
function resamplingOf(job: JobRecord, input: InspectedInput, classInputs: ReadonlySet<string>): ResamplingMethod {
	const { name, band } = input.input;
	const requested = job.request.inputs[name]?.resampling;
	if (requested) return requested;
	if (name === job.request.mask?.input) return "nearest";
	const integer = INTEGER_SAMPLE_TYPES.has(bandDataType(input.header, band));
	return integer && classInputs.has(name) ? "nearest" : "bilinear";
}

/** An input as compute reads it: its file, band, sample type, nodata, block layout and placement. */
function plannedInput(
	job: JobRecord,
	{ input, image, header }: InspectedInput,
	placement: InputPlacement | undefined,
): PlannedInput {
	const nodata = job.request.inputs[input.name]?.nodata ?? job.request.nodata ?? header.nodataValue;
	return {
		name: input.name,
		upload_id: input.uploadId,
		object_key: input.objectKey,
		href: input.href,
		bytes: input.bytes,
		etag: input.etag,
		band: input.band,
		data_type: bandDataType(header, input.band),
		nodata: nodata === null || !Number.isFinite(nodata) ? null : nodata,
		bytes_per_pixel: image.getBytesPerPixel(),
		block_width: header.block_width,
		block_height: header.block_height,
		...(placement ? { placement } : {}),
	};
}

/** Whether every input has the first's size, geotransform and CRS. */
function sameGrids(inspected: readonly InspectedInput[], transforms: readonly (Geotransform | null)[]): boolean {
	const [first, ...others] = inspected;
	const [transform] = transforms;
	if (!first || !transform) return false;
	return others.every((other, i) => {
		const otherTransform = transforms[i + 1];
		return (
			otherTransform !== null &&
			otherTransform !== undefined &&
			other.header.width === first.header.width &&
			other.header.height === first.header.height &&
			sameGeotransform(transform, otherTransform) &&
			sameCrs(first.header.geo, other.header.geo)
		);
	});
}

/** The grid of an input whose geotransform is known. */
function gridOf({ header }: InspectedInput, geotransform: Geotransform): Grid {
	return { geotransform, width: header.width, height: header.height, crs: header.geo };
}

/**
 * The output grid: the target grid (every input on one grid, src/raster/grid.ts), cut to the
 * smallest window of whole pixels covering the request's area of interest, with each input's
 * placement on it; or the problem that makes the inputs unusable together.
 */
function outputGrid(
	job: JobRecord,
	inspected: readonly InspectedInput[],
	classInputs: ReadonlySet<string>,
): {
	width: number;
	height: number;
	geo: GeoReference;
	area?: JobPlan["area"];
	placements: Map<string, InputPlacement>;
} {
	const transforms = inspected.map((entry) => {
		try {
			return geotransformOf(entry.header.geo);
		} catch (error) {
			// Georeference tags are parsed here first; malformed ones make the file unreadable.
			throw inputReadFailure(entry.input, error, "reading the georeference");
		}
	});
	const [reference] = inspected;
	if (!reference) throw new ApiError("invalid-inputs", "the job has no inputs");
	const { aoi, grid } = job.request;
	if (transforms.every((transform) => transform === null)) {
		const mismatch = checkSameSize(inspected);
		if (mismatch) throw mismatch;
		if (aoi || grid) {
			const path = aoi ? "aoi" : "grid";
			throw new ApiError(
				"raster-mismatch",
				`'${path}' needs georeferenced inputs; none of the inputs is georeferenced`,
				{
					errors: [{ path, message: "the inputs have no georeference" }],
				},
			);
		}
		const { width, height, geo } = reference.header;
		return { width, height, geo, placements: new Map() };
	}
	if (!aoi && !grid && sameGrids(inspected, transforms)) {
		// One grid, rotated or not: read as it is, nothing to place.
		const { width, height, geo } = reference.header;
		return { width, height, geo, placements: new Map() };
	}
	const missing = inspected.find((_, i) => transforms[i] === null);
	if (missing) {
		throw new ApiError("raster-mismatch", `input '${missing.input.name}' has no georeference and the others have`, {
			errors: [{ path: `inputs.${missing.input.name}`, message: "not georeferenced" }],
		});
	}
	// Of equally fine inputs the first in the request's order gives the grid.
	const order = Object.keys(job.request.inputs);
	const gridInputs = inspected
		.map((entry, i) => ({ name: entry.input.name, grid: gridOf(entry, transforms[i] as Geotransform) }))
		.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
	const target = targetGrid(gridInputs, grid?.like);
	const cut = aoi ? aoiWindow(aoi as Aoi, target.grid) : null;
	const window = cut?.window ?? { rowStart: 0, rowEnd: target.grid.height, colStart: 0, colEnd: target.grid.width };
	const origin = { column: window.colStart, row: window.rowStart };
	const placements = new Map<string, InputPlacement>();
	for (const mapping of target.inputs) {
		if (mapping.identity) continue;
		const entry = inspected.find((candidate) => candidate.input.name === mapping.name);
		if (!entry) throw new Error(`input ${mapping.name} was not inspected`);
		placements.set(mapping.name, { mapping, resampling: resamplingOf(job, entry, classInputs) });
	}
	const like = inspected.find((entry) => entry.input.name === target.like) ?? reference;
	const polygons = cut?.inRasterCrs.polygons;
	return {
		width: window.colEnd - window.colStart,
		height: window.rowEnd - window.rowStart,
		geo: windowGeoReference(like.header.geo, origin.column, origin.row),
		...(origin.column === 0 && origin.row === 0 && !polygons
			? {}
			: { area: { origin, grid: target.grid, ...(polygons ? { polygons } : {}) } }),
		placements,
	};
}

/**
 * The job's windows over its output grid (see outputGrid), under STRIP_BUDGET_BYTES, or the
 * problem that makes the inputs unusable together or the area of interest miss them.
 */
export function planRasterWindows(
	env: Env,
	job: JobRecord,
	inspected: readonly InspectedInput[],
	classInputs: ReadonlySet<string> = new Set(),
): JobPlan | ApiError {
	let output: ReturnType<typeof outputGrid>;
	try {
		output = outputGrid(job, inspected, classInputs);
	} catch (error) {
		if (error instanceof ApiError) return error;
		throw error;
	}
	const planned = inspected.map((entry) => plannedInput(job, entry, output.placements.get(entry.input.name)));
	const { width, height, geo } = output;
	const { rowsPerStrip, colsPerStrip, chunkColumns, strips } = planStrips(
		width,
		height,
		planned,
		env.STRIP_BUDGET_BYTES,
	);
	return {
		width,
		height,
		geo,
		rows_per_strip: rowsPerStrip,
		cols_per_strip: colsPerStrip,
		...(chunkColumns < colsPerStrip ? { chunk_columns: chunkColumns } : {}),
		// Kept with the plan, so a job keeps one chain of windows whatever a later deploy sets.
		windows_in_flight: Math.max(1, env.WINDOWS_IN_FLIGHT_PER_JOB),
		strips,
		inputs: planned,
		...(output.area ? { area: output.area } : {}),
	};
}
