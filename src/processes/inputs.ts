/**
 * The inputs of a job request, as every process takes them: an upload or a remote COG per name,
 * with its band, scale, offset, nodata and resampling. Shared by POST /v1/jobs's fields.
 */
import { z } from "@hono/zod-openapi";
import type { JobRequest } from "../db/jobs";
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
				"HTTPS URL of a Cloud-Optimized GeoTIFF, read by byte ranges (the server must honour Range); give this or upload_id",
			example: "https://example.com/S2B_33UUP_20240612_0_L2A/B04.tif",
		}),
		band: z.number().int().min(1).default(1).openapi({ description: "1-based band of the file", example: 1 }),
		scale: z
			.number()
			.default(1)
			.openapi({ description: "The formula sees sample * scale + offset (e.g. 0.0001 for reflectance)", example: 1 }),
		offset: z
			.number()
			.default(0)
			.openapi({ description: "Added after scale (e.g. -0.1 for Sentinel-2 L2A since baseline 04.00)", example: 0 }),
		resampling: z.enum(RESAMPLING_METHODS).optional().openapi({
			description:
				"How the input is resampled when it lies on another grid than the output's: `nearest` (as gdalwarp -r near; the default for the mask's input and for integer inputs compared or used bitwise), `bilinear` (as gdalwarp -r bilinear; the default otherwise) or `average` (as gdalwarp -r average, for a coarser output). Nodata source pixels are left out and the rest re-weighted; values are not rounded back to the input's sample type",
			example: "bilinear",
		}),
		nodata: z.number().optional().openapi({
			description:
				"Samples equal to this are nodata in this input; overrides the job's nodata and the file's GDAL_NODATA",
			example: 0,
		}),
	})
	.refine((input) => (input.upload_id === undefined) !== (input.href === undefined), {
		message: "give exactly one of upload_id and href",
	})
	.openapi("JobInput");

export type JobInput = z.infer<typeof JobInputSchema>;

/** The validated inputs as stored: each names its upload or its href, never both. */
export function inputRequests(inputs: Record<string, JobInput>): JobRequest["inputs"] {
	return Object.fromEntries(
		Object.entries(inputs).map(([name, { upload_id, href, band, scale, offset, nodata, resampling }]) => {
			const sampling = {
				band,
				scale,
				offset,
				...(nodata === undefined ? {} : { nodata }),
				...(resampling === undefined ? {} : { resampling }),
			};
			if (upload_id !== undefined) return [name, { upload_id, ...sampling }];
			if (href !== undefined) return [name, { href, ...sampling }];
			throw new Error(`inputs.${name}: the schema let through an input with neither upload_id nor href`);
		}),
	);
}
