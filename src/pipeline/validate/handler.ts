/**
 * validate: reads only the inputs' headers, checks they share one grid and a supported sample
 * type, plans the compute strips (windows) under the memory budget and sends one message per strip.
 */
import type { GeoTIFFImage } from "geotiff";
import { type JobInputRecord, listJobInputs, saveJobPlan } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import { findIndex } from "../../indices/registry";
import { decodableCompressions } from "../../raster/decoders";
import { geotransformOf, sameCrs, sameGeotransform } from "../../raster/georeference";
import { inputReadFailure } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import {
	bandDataType,
	findBlocksOutsideFile,
	inspectRaster,
	isSupportedDataType,
	type RasterHeader,
} from "../../raster/inspect";
import { jobMessage } from "../message";
import { type PlannedInput, planStrips } from "../plan";
import { sendAllToStage } from "../send";
import { done, failed, type StageHandler } from "../stage";

/** Photometric interpretations whose samples are plain values (no palette, no YCbCr). */
const VALUE_PHOTOMETRICS = new Set([0, 1, 2]);

type Inspected = { input: JobInputRecord; image: GeoTIFFImage; header: RasterHeader };

async function inspectInput(env: Env, input: JobInputRecord): Promise<Inspected | ApiError> {
	const path = `inputs.${input.name}`;
	try {
		const image = await openRasterFile(env, input);
		const header = await inspectRaster(image);
		const outside = await findBlocksOutsideFile(image, input.bytes);
		if (outside > 0) {
			return new ApiError(
				"invalid-raster",
				`input '${input.name}': ${outside} data blocks lie past the end of the file (${input.bytes} bytes); the file is truncated`,
				{ errors: [{ path, message: "truncated file" }] },
			);
		}
		return { input, image, header };
	} catch (error) {
		return inputReadFailure(input, error, "reading the header");
	}
}

function checkSupported({ input, header }: Inspected): ApiError | null {
	const path = `inputs.${input.name}`;
	if (input.band > header.bands) {
		return new ApiError(
			"invalid-inputs",
			`input '${input.name}': band ${input.band} does not exist (the file has ${header.bands})`,
			{
				errors: [{ path: `${path}.band`, message: `must be between 1 and ${header.bands}` }],
			},
		);
	}
	const dataType = bandDataType(header, input.band);
	if (!isSupportedDataType(dataType)) {
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': sample type ${dataType} is not supported (8, 16 or 32-bit integers, Float32 or Float64)`,
			{ errors: [{ path, message: `unsupported sample type ${dataType}` }] },
		);
	}
	if (!decodableCompressions.has(header.compression)) {
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': TIFF compression ${header.compression} is not supported (${[...new Set(decodableCompressions.values())].join(", ")} are)`,
			{
				errors: [{ path, message: `unsupported compression ${header.compression}` }],
			},
		);
	}
	if (header.photometric !== null && !VALUE_PHOTOMETRICS.has(header.photometric)) {
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': photometric interpretation ${header.photometric} (palette, mask or YCbCr) is not supported`,
			{ errors: [{ path, message: `unsupported photometric interpretation ${header.photometric}` }] },
		);
	}
	return null;
}

function checkSameGrid(reference: Inspected, other: Inspected): ApiError | null {
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

export const validateStage: StageHandler = {
	message: jobMessage,
	async handle(message, { env, job }) {
		const index = findIndex(job.indexId);
		if (!index) return failed(new ApiError("unknown-index", `index '${job.indexId}' is no longer available`));
		const inputs = await listJobInputs(env.DB, job.id);
		const inspected: Inspected[] = [];
		for (const input of inputs) {
			const result = await inspectInput(env, input);
			if (result instanceof ApiError) return failed(result);
			const unsupported = checkSupported(result);
			if (unsupported) return failed(unsupported);
			inspected.push(result);
		}
		const [reference, ...others] = inspected;
		if (!reference) return failed(new ApiError("invalid-inputs", "the job has no inputs"));
		for (const other of others) {
			let mismatch: ApiError | null;
			try {
				mismatch = checkSameGrid(reference, other);
			} catch (error) {
				// Georeference tags are parsed here first; malformed ones make the file unreadable.
				return failed(inputReadFailure(other.input, error, "reading the georeference"));
			}
			if (mismatch) return failed(mismatch);
		}

		const planned: PlannedInput[] = inspected.map(({ input, image, header }) => {
			const nodata = job.request.nodata ?? header.nodataValue;
			return {
				name: input.name,
				upload_id: input.uploadId,
				object_key: input.objectKey,
				href: input.href,
				bytes: input.bytes,
				band: input.band,
				data_type: bandDataType(header, input.band),
				nodata: nodata === null || !Number.isFinite(nodata) ? null : nodata,
				bytes_per_pixel: image.getBytesPerPixel(),
				block_width: header.block_width,
				block_height: header.block_height,
			};
		});
		const { width, height, geo } = reference.header;
		const { rowsPerStrip, colsPerStrip, strips } = planStrips(width, height, planned, env.STRIP_BUDGET_BYTES);
		// A redelivery gets the plan stored first back, so strips are sent from what D1 holds.
		const stored = await saveJobPlan(env.DB, job.id, {
			index: index.id,
			width,
			height,
			geo,
			rows_per_strip: rowsPerStrip,
			cols_per_strip: colsPerStrip,
			strips,
			inputs: planned,
		});
		await sendAllToStage(
			env,
			"compute",
			stored.strips.map((strip) => ({ job_id: job.id, trace_id: message.trace_id, strip_index: strip.index })),
		);
		return done({
			width,
			height,
			strips: stored.strips.length,
			rows_per_strip: stored.rows_per_strip,
			cols_per_strip: stored.cols_per_strip,
		});
	},
};
