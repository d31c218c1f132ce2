/**
 * The closed list of problem types EO Edge reports, for the HTTP API and for failed jobs.
 * Each code becomes the RFC 9457 `type` URI `https://eo-edge.dev/problems/<code>`.
 */

export const problemTypes = {
	"malformed-request": { status: 400, title: "The request body is not well-formed" },
	"length-required": { status: 411, title: "Content-Length is required" },
	"payload-too-large": { status: 413, title: "The upload is larger than allowed" },
	"unsupported-media-type": { status: 415, title: "Unsupported media type" },
	"validation-failed": { status: 422, title: "The request does not match the schema" },
	"invalid-raster": { status: 422, title: "The file is not a readable GeoTIFF" },
	"unknown-index": { status: 422, title: "The index is not available" },
	"invalid-formula": { status: 422, title: "The formula or its constants cannot be compiled" },
	"unknown-upload": { status: 422, title: "An input names an upload that does not exist" },
	"invalid-inputs": { status: 422, title: "The inputs do not fit the index" },
	"unknown-field-set": { status: 422, title: "The zones name a field set that does not exist" },
	"not-found": { status: 404, title: "No such resource" },
	"range-not-satisfiable": { status: 416, title: "The requested range is outside the resource" },
	"upload-part-mismatch": { status: 422, title: "The part does not fit the upload" },
	"upload-incomplete": { status: 409, title: "Parts of the upload are missing" },
	"upload-closed": { status: 409, title: "The upload is no longer open" },
	"raster-mismatch": { status: 422, title: "The input rasters do not share one grid" },
	"unsupported-raster": { status: 422, title: "The raster layout or sample type is not supported" },
	"raster-too-large": { status: 422, title: "The raster exceeds a configured size limit" },
	"input-unavailable": { status: 422, title: "An input could not be read" },
	"invalid-stac": { status: 422, title: "A STAC item or search cannot give the job's inputs" },
	"stac-no-items": { status: 422, title: "The STAC search found no items" },
	"aoi-outside-raster": { status: 422, title: "The area of interest does not overlap the raster" },
	unauthorized: { status: 401, title: "A valid API key is required" },
	forbidden: { status: 403, title: "The API key lacks the scope this needs" },
	"rate-limited": { status: 429, title: "Too many requests for this API key" },
	"quota-exceeded": { status: 429, title: "The tenant's quota is used up" },
	"idempotency-key-reused": { status: 409, title: "The Idempotency-Key was used for a different request" },
	"job-ended": { status: 409, title: "The job has already ended" },
	"job-not-finished": { status: 409, title: "The job has not finished yet" },
	"job-not-succeeded": { status: 409, title: "The job ended without a result" },
	"stage-failed": { status: 500, title: "A pipeline stage kept failing" },
	"job-stalled": { status: 500, title: "The job made no progress for too long" },
	"internal-error": { status: 500, title: "Internal error" },
	"storage-unavailable": { status: 503, title: "Storage is temporarily unavailable" },
	"webhooks-unavailable": { status: 503, title: "Webhooks are not configured on this deployment" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof problemTypes;

export const PROBLEM_TYPE_BASE = "https://eo-edge.dev/problems/";

export function problemTypeUri(code: ProblemCode): string {
	return `${PROBLEM_TYPE_BASE}${code}`;
}
