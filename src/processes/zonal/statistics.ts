/**
 * A field's statistics on one date, as the job's outputs give them: the accumulator's, with the
 * request's percentiles, and null statistics (counts kept) below the request's valid fraction.
 */
import type { JobRequest } from "../../db/jobs";
import type { ZoneStatistics } from "./outputs";
import { DEFAULT_PERCENTILES } from "./request";
import type { WeightedStatistics } from "./weighted-statistics";

export type { ZoneStatistics };

export function requestedPercentiles(request: JobRequest): number[] {
	return request.percentiles ?? DEFAULT_PERCENTILES;
}

/** The key of percentile q in the outputs: p2, p50, p98, p99.5. */
export function percentileKey(q: number): string {
	return `p${q}`;
}

/** A field that misses the raster on a date: nothing counted, no statistic. */
export function missedField(request: JobRequest): ZoneStatistics {
	return {
		count: 0,
		nodata_count: 0,
		masked_count: 0,
		valid_fraction: null,
		mean: null,
		std: null,
		min: null,
		max: null,
		sum: null,
		percentiles: Object.fromEntries(requestedPercentiles(request).map((q) => [percentileKey(q), null])),
	};
}

export function zoneStatistics(accumulator: WeightedStatistics, request: JobRequest): ZoneStatistics {
	const statistics = accumulator.finish(requestedPercentiles(request));
	const below = statistics.valid_fraction !== null && statistics.valid_fraction < (request.min_valid_fraction ?? 0);
	if (!below) return statistics;
	const { count, nodata_count, masked_count, valid_fraction } = statistics;
	return { ...missedField(request), count, nodata_count, masked_count, valid_fraction };
}
