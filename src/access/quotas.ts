/** What a new tenant may use unless its creator says otherwise (`npm run keys -- create`). */
import type { TenantQuotas } from "../db/access";
import { ApiError } from "../errors/api-error";

export const defaultQuotas: TenantQuotas = {
	maxConcurrentJobs: 20,
	// Four 10980 x 10980 Sentinel-2 scenes' worth of pixels.
	maxPixelsPerJob: 4 * 10980 * 10980,
	maxUploadBytesPerDay: 50 * 1024 ** 3,
	maxRequestsPerMinute: 600,
	maxFieldSets: 1000,
	// Ten sets at the largest a request may send (FIELDS_MAX_VERTICES).
	maxFieldVertices: 10_000_000,
};

/**
 * The problem for a job over the tenant's pixel quota (its output pixels), or null. Checked at
 * submission from the uploads' size, and at validate from the plan's output, which only the
 * headers of remote inputs, an AOI's crop or another input's grid tell. Waiting does
 * not help, so there is no Retry-After: the tenant's quota must change.
 */
export function pixelQuotaProblem(pixels: number, quotas: TenantQuotas): ApiError | null {
	if (pixels <= quotas.maxPixelsPerJob) return null;
	return new ApiError(
		"quota-exceeded",
		`The job computes ${pixels} output pixels; this tenant's jobs may compute at most ${quotas.maxPixelsPerJob}.`,
		{ errors: [{ path: "inputs", message: `${pixels} pixels is over the quota of ${quotas.maxPixelsPerJob}` }] },
	);
}
