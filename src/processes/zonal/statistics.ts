/**
 * A field's statistics on one date, as the job's outputs give them: the accumulator's, with the
 * request's percentiles, and null statistics (counts kept) below the request's valid fraction.
 */
import type { JobRequest, JobWarningRecord } from "../../db/jobs";
import type { ZoneResult, ZoneStatistics } from "./outputs";
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

/** Ids a warning names before it says how many more there are. */
const NAMED_FIELDS = 5;

/** Whether a field lies outside every date's inputs: nothing counted on any date, not even nodata. */
function liesOutside({ series }: Pick<ZoneResult, "series">): boolean {
	return series.every(({ statistics }) => statistics.count + statistics.nodata_count + statistics.masked_count === 0);
}

/**
 * A warning when fields lie outside every date's inputs ({@link liesOutside}, the ids of the first
 * few of them given, of `fields` in all): a whole field set missing is most often one written
 * latitude first, or in the raster's CRS rather than RFC 7946's longitude/latitude, and its job
 * would otherwise succeed with only nulls.
 */
export function outsideFieldsWarnings(
	outside: { named: readonly string[]; count: number },
	fields: number,
): JobWarningRecord[] {
	if (outside.count === 0) return [];
	const named = outside.named.slice(0, NAMED_FIELDS).map((id) => `'${id}'`);
	const more = outside.count > NAMED_FIELDS ? ` and ${outside.count - NAMED_FIELDS} more` : "";
	const which =
		outside.count < fields
			? `${outside.count} of ${fields} fields`
			: fields === 1
				? "The job's one field"
				: `All ${fields} fields`;
	const verb = outside.count === 1 ? "lies" : "lie";
	const pronoun = outside.count === 1 ? "it has" : "they have";
	return [
		{
			code: "fields-outside-inputs",
			message: `${which} (${named.join(", ")}${more}) ${verb} outside the inputs on every date: ${pronoun} count 0 and null statistics. Fields are longitude, latitude (RFC 7946); a field set written latitude first, or in the raster's own CRS, misses the raster.`,
		},
	];
}

/** The fields of `results` that lie outside every date's inputs, as {@link outsideFieldsWarnings} takes them: added to `outside`. */
export function countOutside(
	results: readonly Pick<ZoneResult, "id" | "series">[],
	outside: { named: string[]; count: number } = { named: [], count: 0 },
): { named: string[]; count: number } {
	for (const zone of results) {
		if (!liesOutside(zone)) continue;
		outside.count++;
		if (outside.named.length < NAMED_FIELDS) outside.named.push(zone.id);
	}
	return outside;
}
