/** What a new tenant may use unless its creator says otherwise (`npm run keys -- create`). */
import type { TenantQuotas } from "../db/access";

export const defaultQuotas: TenantQuotas = {
	maxConcurrentJobs: 20,
	// Four 10980 x 10980 Sentinel-2 scenes' worth of pixels.
	maxPixelsPerJob: 4 * 10980 * 10980,
	maxUploadBytesPerDay: 50 * 1024 ** 3,
	maxRequestsPerMinute: 600,
};
