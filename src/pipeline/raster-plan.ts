/**
 * The plan of a job whose windows read its inputs on one grid: the inputs as compute reads
 * them, and the raster cut into windows under the memory budget (./plan.ts). validate inspects
 * the inputs' headers for every process; a process plans its job from them with this.
 */
import type { GeoTIFFImage } from "geotiff";
import type { JobInputRecord } from "../db/job-inputs";
import type { JobRecord } from "../db/jobs";
import { ApiError } from "../errors/api-error";
import { geotransformOf, sameCrs, sameGeotransform } from "../raster/georeference";
import { inputReadFailure } from "../raster/input-errors";
import { bandDataType, type RasterHeader } from "../raster/inspect";
import { type JobPlan, type PlannedInput, planStrips } from "./plan";

/** An input of the job with its file's header, as validate read it. */
export interface InspectedInput {
	input: JobInputRecord;
	image: GeoTIFFImage;
	header: RasterHeader;
	/** Bytes of the file's blocks, as stored. */
	storedBytes: number;
}

function checkSameGrid(reference: InspectedInput, other: InspectedInput): ApiError | null {
	const a = reference.header;
	const b = other.header;
	const names = `'${reference.input.name}' and '${other.input.name}'`;
	const errors = [{ path: `inputs.${other.input.name}`, message: `not on the grid of inputs.${reference.input.name}` }];
	if (a.width !== b.width || a.height !== b.height) {
		return new ApiError(
			"raster-mismatch",
			`sizes differ: ${names} are ${a.width} x ${a.height} and ${b.width} x ${b.height} pixels`,
			{ errors },
		);
	}
	const transformA = geotransformOf(a.geo);
	const transformB = geotransformOf(b.geo);
	const bothUngeoreferenced = transformA === null && transformB === null;
	if (!bothUngeoreferenced && !(transformA && transformB && sameGeotransform(transformA, transformB))) {
		return new ApiError("raster-mismatch", `geotransforms differ between ${names} (origin or pixel size)`, { errors });
	}
	if (!sameCrs(a.geo, b.geo)) {
		return new ApiError("raster-mismatch", `coordinate reference systems differ between ${names}`, { errors });
	}
	return null;
}

/** An input as compute reads it: its file, band, sample type, nodata and block layout. */
function plannedInput(job: JobRecord, { input, image, header }: InspectedInput): PlannedInput {
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
	};
}

/**
 * The job's windows over its inputs' grid, under STRIP_BUDGET_BYTES, or the problem that makes
 * the inputs unusable together (no input, or grids that differ).
 */
export function planRasterWindows(env: Env, job: JobRecord, inspected: readonly InspectedInput[]): JobPlan | ApiError {
	const [reference, ...others] = inspected;
	if (!reference) return new ApiError("invalid-inputs", "the job has no inputs");
	for (const other of others) {
		let mismatch: ApiError | null;
		try {
			mismatch = checkSameGrid(reference, other);
		} catch (error) {
			// Georeference tags are parsed here first; malformed ones make the file unreadable.
			return inputReadFailure(other.input, error, "reading the georeference");
		}
		if (mismatch) return mismatch;
	}
	const planned = inspected.map((entry) => plannedInput(job, entry));
	const { width, height, geo } = reference.header;
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
	};
}
