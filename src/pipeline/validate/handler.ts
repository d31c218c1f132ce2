/**
 * validate: reads only the inputs' headers, checks each has a supported layout and sample type
 * and that the job's remote files fit its byte budget, then has the job's process plan the job
 * (windows under the memory budget), checks the plan against the pixel quota, stores it and
 * starts the process's next stage.
 */
import { pixelQuotaProblem } from "../../access/quotas";
import { findTenantQuotas } from "../../db/access";
import { type JobInputRecord, listJobInputs } from "../../db/job-inputs";
import type { JobRecord } from "../../db/jobs";
import { saveJobPlan } from "../../db/windows";
import { ApiError } from "../../errors/api-error";
import { decodableCompressions, describeCompression, PHOTOMETRIC } from "../../raster/decoders";
import { inputReadFailure } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import { bandDataType, inspectRaster, isSupportedDataType, ycbcrUnreadable } from "../../raster/inspect";
import type { PixelWindow } from "../../raster/read";
import type { RemoteByteBudget } from "../../raster/remote";
import { jobRemoteBudget } from "../../raster/remote-budget";
import { planResample } from "../../raster/resample";
import { storedBytesUnder } from "../../raster/tiff-structure";
import { advance } from "../advance";
import { jobMessage } from "../message";
import { type JobPlan, type PlannedInput, planPixels, type StripSpan } from "../plan";
import type { InspectedInput } from "../raster-plan";
import { done, failed, type StageContext, type StageHandler, type StageOutcome } from "../stage";

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

async function inspectInput(
	env: Env,
	job: JobRecord,
	input: JobInputRecord,
	remoteBudget: RemoteByteBudget,
): Promise<InspectedInput | ApiError> {
	try {
		const allowedHosts = job.request.remote?.allowed_hosts ?? null;
		const { image, structure } = await openRasterFile(env, { ...input, allowedHosts, remoteBudget });
		return { input, image, header: await inspectRaster(image), structure };
	} catch (error) {
		return inputReadFailure(input, error, "reading the header");
	}
}

function checkSupported({ input, header }: InspectedInput): ApiError | null {
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

/**
 * Remote inputs show their size only here, and the output's size only once planned; the quota
 * checked at submission applies to the output the plan computes.
 */
async function checkPixelQuota(db: D1Database, tenantId: string | null, plan: JobPlan): Promise<ApiError | null> {
	const quotas = tenantId ? await findTenantQuotas(db, tenantId) : null;
	return quotas ? pixelQuotaProblem(planPixels(plan), quotas) : null;
}

export const validateStage: StageHandler = {
	message: jobMessage,
	async handle(_message, context) {
		// Headers are read lazily (the georeference while grids are compared): the budget is
		// settled once the stage is done with them.
		const budget = jobRemoteBudget(context.env, context.job.id);
		try {
			return await validate(context, budget);
		} finally {
			await budget.settle();
		}
	},
};

/**
 * The window of an input's own file that one of the plan's windows reads: the window's own
 * (moved onto the target grid under an area of interest), or what resampling it needs; null
 * when the window does not read the input.
 */
function windowRead(plan: JobPlan, window: StripSpan, input: PlannedInput): PixelWindow | null {
	if (window.inputs && !window.inputs.includes(input.name)) return null;
	const origin = plan.area?.origin ?? { column: 0, row: 0 };
	const target = {
		rowStart: origin.row + window.rowStart,
		rowEnd: origin.row + window.rowEnd,
		colStart: origin.column + window.colStart,
		colEnd: origin.column + window.colEnd,
	};
	if (!input.placement) return target;
	return planResample(input.placement.mapping, target, input.placement.resampling).sourceWindow;
}

/**
 * The blocks the plan reads from the job's remote files, each block counted once however many
 * inputs read it, against the bytes a job may read (REMOTE_MAX_BYTES_PER_JOB, which compute's
 * reads are also held to, summed): a job that cannot fit is refused here, before any window is
 * computed. Only the blocks under the plan's windows count (an area of interest's, a zonal job's fields').
 */
function checkRemoteBytes(inspected: readonly InspectedInput[], plan: JobPlan, limit: number): ApiError | null {
	const byFile = Map.groupBy(
		inspected.filter((entry) => entry.input.href !== null),
		(entry) => entry.input.href,
	);
	const files = [...byFile.values()].map((entries) => {
		const reads = entries.flatMap((entry) => {
			const planned = plan.inputs.find((input) => input.name === entry.input.name);
			if (!planned) return [];
			return plan.strips.flatMap((strip) => {
				const window = windowRead(plan, strip, planned);
				return window ? [{ window, band: entry.input.band }] : [];
			});
		});
		const [first] = entries as [InspectedInput, ...InspectedInput[]];
		const bytes = storedBytesUnder(
			first.structure,
			reads.map((read) => read.window),
			reads.map((read) => read.band),
		);
		return { entry: first, bytes };
	});
	const total = files.reduce((sum, file) => sum + file.bytes, 0);
	if (total <= limit) return null;
	return new ApiError(
		"raster-too-large",
		`the job reads ${total} bytes of blocks from its remote files; a job reads at most ${limit} bytes from remote files (REMOTE_MAX_BYTES_PER_JOB)`,
		{
			errors: files.map(({ entry, bytes }) => ({
				path: `inputs.${entry.input.name}.href`,
				message: `the blocks read take ${bytes} bytes`,
			})),
		},
	);
}

/**
 * Checks every input's header and the job's remote bytes, has the job's process plan it, checks
 * the plan against the tenant's pixel quota, stores it and starts the process's next stage.
 */
async function validate(context: StageContext, budget: RemoteByteBudget): Promise<StageOutcome> {
	const { env, job } = context;
	const inputs = await listJobInputs(env.DB, job.id);
	const inspected: InspectedInput[] = [];
	for (const input of inputs) {
		const result = await inspectInput(env, job, input, budget);
		if (result instanceof ApiError) return failed(result);
		const unsupported = checkSupported(result);
		if (unsupported) return failed(unsupported);
		inspected.push(result);
	}
	let plan: JobPlan | ApiError;
	try {
		plan = await context.process.plan(context, inspected);
	} catch (error) {
		// A process may throw its problem as well as return it; anything else is retried.
		if (error instanceof ApiError) return failed(error);
		throw error;
	}
	if (plan instanceof ApiError) return failed(plan);
	const tooMuchRemote = checkRemoteBytes(inspected, plan, env.REMOTE_MAX_BYTES_PER_JOB);
	if (tooMuchRemote) return failed(tooMuchRemote);
	const overQuota = await checkPixelQuota(env.DB, job.tenantId, plan);
	if (overQuota) return failed(overQuota);
	// A redelivery gets the plan stored first back, so windows are sent from what D1 holds.
	const stored = await saveJobPlan(env.DB, job.id, plan);
	const next = await advance(context, "validate", stored);
	return done({
		width: stored.width,
		height: stored.height,
		strips: stored.strips.length,
		rows_per_strip: stored.rows_per_strip,
		cols_per_strip: stored.cols_per_strip,
		...(stored.chunk_columns === undefined ? {} : { chunk_columns: stored.chunk_columns }),
		next,
	});
}
