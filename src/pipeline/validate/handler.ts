/**
 * validate: reads only the inputs' headers, checks they share one grid and a supported sample
 * type, plans the compute strips (windows) under the memory budget and sends one message per strip.
 */
import type { GeoTIFFImage } from "geotiff";
import { pixelQuotaProblem } from "../../access/quotas";
import { findTenantQuotas } from "../../db/access";
import { type JobInputRecord, listJobInputs } from "../../db/job-inputs";
import type { JobRecord } from "../../db/jobs";
import { saveJobPlan } from "../../db/windows";
import { ApiError } from "../../errors/api-error";
import { decodableCompressions, describeCompression, PHOTOMETRIC } from "../../raster/decoders";
import { geotransformOf, sameCrs, sameGeotransform } from "../../raster/georeference";
import { inputReadFailure } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import {
	bandDataType,
	inspectRaster,
	isSupportedDataType,
	type RasterHeader,
	ycbcrUnreadable,
} from "../../raster/inspect";
import type { RemoteByteBudget } from "../../raster/remote";
import { jobRemoteBudget } from "../../raster/remote-budget";
import { type JobMessage, jobMessage } from "../message";
import { type PlannedInput, planStrips } from "../plan";
import { done, failed, type StageContext, type StageHandler, type StageOutcome } from "../stage";
import { storeWorkingSetBytes, widestStorableWidth } from "../store/handler";
import { startWindows } from "../windows";

/**
 * Photometric interpretations whose samples are the band's values: grey levels and RGB, and
 * YCbCr JPEG (GDAL's layout for RGB JPEG), which is read as RGB as GDAL reads it. Palette
 * indices, transparency masks, CMYK and CIE L*a*b* are not measurements an index can use, and
 * are refused by name, as is YCbCr in any other layout.
 */
const VALUE_PHOTOMETRICS = new Set<number>([
	PHOTOMETRIC.minIsWhite,
	PHOTOMETRIC.minIsBlack,
	PHOTOMETRIC.rgb,
	PHOTOMETRIC.ycbcr,
]);
const PHOTOMETRIC_NAMES = new Map<number, string>([
	[3, "palette"],
	[4, "transparency mask"],
	[5, "CMYK"],
	[6, "YCbCr"],
	[8, "CIE L*a*b*"],
	[9, "ICC L*a*b*"],
	[10, "ITU L*a*b*"],
	[32844, "LogL"],
	[32845, "LogLuv"],
]);

/** The codecs to suggest instead of an unsupported one: the lossless ones, JPEG aside. */
const SUGGESTED_COMPRESSIONS = [...new Set(decodableCompressions.values())].filter(
	(name) => name !== "none" && name !== "JPEG",
);

type Inspected = { input: JobInputRecord; image: GeoTIFFImage; header: RasterHeader; storedBytes: number };

const MiB = 1024 * 1024;

/** A result too wide for store to build its overviews within STORE_BUDGET_BYTES. */
function checkStoreBudget({ width, height }: RasterHeader, budgetBytes: number): ApiError | null {
	const needed = storeWorkingSetBytes(width, height);
	if (needed <= budgetBytes) return null;
	const widest = widestStorableWidth(height, budgetBytes);
	return new ApiError(
		"raster-too-large",
		`the inputs are ${width} x ${height} pixels; building result.tif's overviews at that width takes ${(needed / MiB).toFixed(1)} MiB, over the ${(budgetBytes / MiB).toFixed(1)} MiB store budget (STORE_BUDGET_BYTES): ${widest > 0 ? `rasters of this height can be at most ${widest} pixels wide` : "no raster of this height fits it"}`,
	);
}

async function inspectInput(
	env: Env,
	job: JobRecord,
	input: JobInputRecord,
	remoteBudget: RemoteByteBudget,
): Promise<Inspected | ApiError> {
	try {
		const allowedHosts = job.request.remote?.allowed_hosts ?? null;
		const { image, structure } = await openRasterFile(env, { ...input, allowedHosts, remoteBudget });
		return { input, image, header: await inspectRaster(image), storedBytes: structure.storedBytes };
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
		const found = `compression ${describeCompression(header.compression)}`;
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': ${found} is not supported; use ${SUGGESTED_COMPRESSIONS.join(", ")} (or JPEG, or none)`,
			{ errors: [{ path, message: `unsupported ${found}` }] },
		);
	}
	const ycbcr = header.photometric === PHOTOMETRIC.ycbcr ? ycbcrUnreadable(header) : null;
	if (ycbcr) {
		const found = "photometric interpretation 6 (YCbCr)";
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': ${found} is not supported in this file: ${ycbcr} (GDAL's RGB JPEG layout, PHOTOMETRIC=YCBCR, is)`,
			{ errors: [{ path, message: `unsupported ${found}: ${ycbcr}` }] },
		);
	}
	if (header.photometric !== null && !VALUE_PHOTOMETRICS.has(header.photometric)) {
		const found = `photometric interpretation ${header.photometric} (${PHOTOMETRIC_NAMES.get(header.photometric) ?? "unknown"})`;
		return new ApiError(
			"unsupported-raster",
			`input '${input.name}': ${found} is not supported; bands must hold values (MinIsBlack, MinIsWhite, RGB, or YCbCr JPEG, read as RGB)`,
			{ errors: [{ path, message: `unsupported ${found}` }] },
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

/** Remote inputs show their size only here; the quota checked at submission applies to them too. */
async function checkPixelQuota(
	db: D1Database,
	tenantId: string | null,
	header: RasterHeader,
): Promise<ApiError | null> {
	const quotas = tenantId ? await findTenantQuotas(db, tenantId) : null;
	return quotas ? pixelQuotaProblem(header.width * header.height, quotas) : null;
}

export const validateStage: StageHandler = {
	message: jobMessage,
	async handle(message, context) {
		// Headers are read lazily (the georeference while grids are compared): the budget is
		// settled once the stage is done with them.
		const budget = jobRemoteBudget(context.env, context.job.id);
		try {
			return await validate(message, context, budget);
		} finally {
			await budget.settle();
		}
	},
};

/**
 * The job's remote files, each counted once however many inputs read it, against the bytes a
 * job may read (REMOTE_MAX_BYTES_PER_JOB, which compute's reads are also held to, summed): a job
 * that cannot fit is refused here, before any window is computed.
 */
function checkRemoteBytes(inspected: readonly Inspected[], limit: number): ApiError | null {
	const remote = new Map<string, Inspected>();
	for (const entry of inspected) if (entry.input.href !== null) remote.set(entry.input.href, entry);
	const total = [...remote.values()].reduce((sum, entry) => sum + entry.storedBytes, 0);
	if (total <= limit) return null;
	return new ApiError(
		"raster-too-large",
		`the job's remote files store ${total} bytes of blocks; a job reads at most ${limit} bytes from remote files (REMOTE_MAX_BYTES_PER_JOB)`,
		{
			errors: [...remote.values()].map((entry) => ({
				path: `inputs.${entry.input.name}.href`,
				message: `its blocks take ${entry.storedBytes} bytes`,
			})),
		},
	);
}

/** Checks the inputs' headers against each other and the limits, plans the strips and sends them. */
async function validate(
	message: JobMessage,
	{ env, job }: StageContext,
	budget: RemoteByteBudget,
): Promise<StageOutcome> {
	if (!job.formula) throw new Error(`job ${job.id} has no compiled formula`);
	const inputs = await listJobInputs(env.DB, job.id);
	const inspected: Inspected[] = [];
	for (const input of inputs) {
		const result = await inspectInput(env, job, input, budget);
		if (result instanceof ApiError) return failed(result);
		const unsupported = checkSupported(result);
		if (unsupported) return failed(unsupported);
		inspected.push(result);
	}
	const tooMuchRemote = checkRemoteBytes(inspected, env.REMOTE_MAX_BYTES_PER_JOB);
	if (tooMuchRemote) return failed(tooMuchRemote);
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

	const overQuota = await checkPixelQuota(env.DB, job.tenantId, reference.header);
	if (overQuota) return failed(overQuota);
	const tooWide = checkStoreBudget(reference.header, env.STORE_BUDGET_BYTES);
	if (tooWide) return failed(tooWide);

	const planned: PlannedInput[] = inspected.map(({ input, image, header }) => {
		const nodata = job.request.nodata ?? header.nodataValue;
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
	});
	const { width, height, geo } = reference.header;
	const { rowsPerStrip, colsPerStrip, chunkColumns, strips } = planStrips(
		width,
		height,
		planned,
		env.STRIP_BUDGET_BYTES,
	);
	// A redelivery gets the plan stored first back, so strips are sent from what D1 holds.
	const stored = await saveJobPlan(env.DB, job.id, {
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
	});
	// Only the first windows are queued; each finished window queues the next (src/pipeline/windows.ts).
	await startWindows(env, "compute", stored, message);
	return done({
		width,
		height,
		strips: stored.strips.length,
		rows_per_strip: stored.rows_per_strip,
		cols_per_strip: stored.cols_per_strip,
		...(stored.chunk_columns === undefined ? {} : { chunk_columns: stored.chunk_columns }),
	});
}
