/**
 * The inputs of a job request, as every process takes them: an upload, a remote COG or a STAC
 * item's asset per name, with its band, scale, offset, nodata and resampling. Shared by POST
 * /v1/jobs's fields; STAC inputs are made concrete by ingest (src/stac/).
 */
import { z } from "@hono/zod-openapi";
import { datedInputName, type InputValueSource, type JobInputRequest, type JobRequest } from "../db/jobs";
import { UPLOAD_ID_PATTERN } from "../ids";
import { remoteHref } from "../raster/remote";
import { RESAMPLING_METHODS } from "../raster/resample";

export const JobInputSchema = z
	.strictObject({
		upload_id: z
			.string()
			.regex(UPLOAD_ID_PATTERN, "must be an upload id (upl_ followed by 24 hex digits)")
			.optional()
			.openapi({ description: "An upload; give this or href", example: "upl_0123456789abcdef01234567" }),
		href: remoteHref.optional().openapi({
			description:
				"HTTPS URL of a Cloud-Optimized GeoTIFF, read by byte ranges (the server must honour Range); give this, upload_id or stac_item",
			example: "https://example.com/S2B_33UUP_20240612_0_L2A/B04.tif",
		}),
		stac_item: remoteHref.optional().openapi({
			description:
				"HTTPS URL of a STAC Item whose asset this input reads (`asset`, else the asset whose band's common name or key is the input's name); give this, upload_id or href",
			example: "https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20240612_0_L2A",
		}),
		asset: z.string().min(1).max(256).optional().openapi({
			description:
				"The key of the STAC Item's asset to read: of this input's stac_item, or without one, of the job's (or the date's) stac_item or of each item its stac_search finds",
			example: "red",
		}),
		band: z.number().int().min(1).optional().openapi({
			description: "1-based band of the file; a STAC asset's band of the input's common name, else 1",
			default: 1,
			example: 1,
		}),
		scale: z.number().optional().openapi({
			description:
				"The formula sees sample * scale + offset (e.g. 0.0001 for reflectance); a STAC asset's own scale unless given, else 1",
			default: 1,
			example: 1,
		}),
		offset: z.number().optional().openapi({
			description:
				"Added after scale (e.g. -0.1 for Sentinel-2 L2A since baseline 04.00); a STAC asset's own offset unless given, else 0",
			default: 0,
			example: 0,
		}),
		resampling: z.enum(RESAMPLING_METHODS).optional().openapi({
			description:
				"How the input is resampled when it lies on another grid than the output's: `nearest` (as gdalwarp -r near; the default for the mask's input and for integer inputs compared or used bitwise), `bilinear` (as gdalwarp -r bilinear; the default otherwise) or `average` (as gdalwarp -r average, for a coarser output). Nodata source pixels are left out and the rest re-weighted; values are not rounded back to the input's sample type",
			example: "bilinear",
		}),
		nodata: z.number().optional().openapi({
			description:
				"Samples equal to this are nodata in this input; overrides the job's nodata, a STAC asset's and the file's GDAL_NODATA",
			example: 0,
		}),
	})
	.superRefine((input, context) => {
		const sources = [input.upload_id, input.href, input.stac_item].filter((source) => source !== undefined).length;
		if (input.asset !== undefined && (input.upload_id !== undefined || input.href !== undefined)) {
			context.addIssue({
				code: "custom",
				path: ["asset"],
				message: "names a STAC asset; give it alone or with stac_item",
			});
		} else if (sources > 1 || (sources === 0 && input.asset === undefined)) {
			context.addIssue({
				code: "custom",
				message: "give exactly one of upload_id, href and stac_item (or asset alone, of the job's STAC item)",
			});
		}
	})
	.openapi("JobInput");

export type JobInput = z.infer<typeof JobInputSchema>;

/** An input read from a STAC item: by its own stac_item, or by an asset of the job's or date's. */
export function isStacInput(input: Pick<JobInput, "stac_item" | "asset">): boolean {
	return input.stac_item !== undefined || input.asset !== undefined;
}

/** The defaults of the values a request or a STAC item may set. */
export const INPUT_DEFAULTS = { band: 1, scale: 1, offset: 0 } as const;

/**
 * One input as stored: the values given, else `stated` (a STAC asset's), else the defaults,
 * each with where it came from; nodata stays unset unless given or stated.
 */
export function concreteInput(
	given: Pick<JobInput, "band" | "scale" | "offset" | "nodata" | "resampling">,
	source: { upload_id: string } | { href: string; stac?: { item: string; asset: string } },
	stated: {
		band?: number | undefined;
		scale?: number | undefined;
		offset?: number | undefined;
		nodata?: number | undefined;
	} = {},
): JobInputRequest {
	const pick = <K extends "band" | "scale" | "offset" | "nodata">(key: K) => {
		if (given[key] !== undefined) return { value: given[key], from: "request" as InputValueSource };
		if (stated[key] !== undefined) return { value: stated[key], from: "item" as InputValueSource };
		return {
			value: key === "nodata" ? undefined : INPUT_DEFAULTS[key as keyof typeof INPUT_DEFAULTS],
			from: "default" as InputValueSource,
		};
	};
	const band = pick("band");
	const scale = pick("scale");
	const offset = pick("offset");
	const nodata = pick("nodata");
	return {
		...source,
		band: band.value as number,
		scale: scale.value as number,
		offset: offset.value as number,
		...(nodata.value === undefined ? {} : { nodata: nodata.value }),
		...(given.resampling === undefined ? {} : { resampling: given.resampling }),
		sources: { band: band.from, scale: scale.from, offset: offset.from, nodata: nodata.from },
	} as JobInputRequest;
}

/** The validated inputs as stored: each names its upload or its href, never both (no STAC input here). */
export function inputRequests(inputs: Record<string, JobInput>): JobRequest["inputs"] {
	return Object.fromEntries(
		Object.entries(inputs).map(([name, input]) => {
			if (input.upload_id !== undefined) return [name, concreteInput(input, { upload_id: input.upload_id })];
			if (input.href !== undefined) return [name, concreteInput(input, { href: input.href })];
			throw new Error(`inputs.${name}: an input with neither upload_id nor href is resolved from STAC by ingest`);
		}),
	);
}

/**
 * A request's inputs and dates as stored: a time series' inputs are also the job's, under
 * `<date>/<name>`, as its stages read them.
 */
export function storedInputs(
	inputs: JobRequest["inputs"] | undefined,
	dates: JobRequest["dates"],
): Pick<JobRequest, "inputs" | "dates"> {
	if (!dates) return { inputs: inputs ?? {}, dates };
	return {
		inputs: Object.fromEntries(
			dates.flatMap((date, i) => Object.entries(date.inputs).map(([name, input]) => [datedInputName(i, name), input])),
		),
		dates,
	};
}
