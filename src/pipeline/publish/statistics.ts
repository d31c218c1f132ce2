/**
 * Job statistics merged from the strips' partials, over every full-resolution pixel. Means and
 * variances merge with Chan's parallel formula, which stays exact where a running sum of
 * squares would lose digits. Percentiles are estimated from a fine histogram.
 */
import { z } from "@hono/zod-openapi";
import type { JobInputRequest } from "../../db/queries";
import type { CompiledFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import type { HistogramSpec, StripStats } from "../../wasm/kernels";

/** Bins of the histogram percentiles are read from: 0.001 wide over [-1, 1]. */
export const PERCENTILE_BINS = 2000;

/** The percentiles stats.json reports, in percent. */
const REPORTED_PERCENTILES = [2, 50, 98] as const;

/** What one compute strip records in D1: its statistics, fine histogram and output tiles. */
export interface StripOutput extends StripStats {
	/** Counts of {@link percentileHistogram}'s bins (values outside it are below/above_range). */
	percentile_counts: number[];
	/** Byte count of each of the strip's encoded output tiles, row-major within the strip. */
	tile_bytes: number[];
}

/** The fine histogram over the formula's range that percentiles are estimated from. */
export function percentileHistogram(range: HistogramSpec): HistogramSpec {
	return { first: range.first, last: range.last, bins: PERCENTILE_BINS };
}

const nullableNumber = (description: string, example: number) =>
	z.number().nullable().openapi({ description, example });

/**
 * stats.json, the contract's `Statistics`: the type the writer returns and the schema the
 * artifact is declared with, so the file and the document cannot disagree.
 */
export const StatisticsSchema = z
	.object({
		index: z.string().openapi({
			description: "The catalog index id, or `expression` for a custom expression",
			example: "SAVI",
		}),
		expression: z.string().openapi({
			description: "The formula evaluated, over the input and constant names",
			example: "(1.0 + L) * (nir - red) / (nir + red + L)",
		}),
		constants: z.record(z.string(), z.number()).openapi({ example: { L: 0.5 } }),
		inputs: z
			.record(z.string(), z.object({ scale: z.number(), offset: z.number() }))
			.openapi({ description: "The linear scaling applied to each input before the formula" }),
		count: z.number().int().min(0).openapi({ description: "Valid pixels", example: 65536 }),
		nodata_count: z.number().int().min(0).openapi({ description: "Pixels that are nodata or NaN", example: 0 }),
		min: nullableNumber("null when no pixel is valid", -0.21),
		max: nullableNumber("null when no pixel is valid", 0.87),
		mean: nullableNumber("null when no pixel is valid", 0.41),
		std: nullableNumber("Population standard deviation (ddof = 0), as numpy's default", 0.18),
		percentiles: z
			.object({ p2: z.number().nullable(), p50: z.number().nullable(), p98: z.number().nullable() })
			.openapi({
				description:
					"As numpy.percentile's default (linear) method would give them, estimated from a 2000-bin histogram over the histogram's range: within one bin width (0.001 for [-1, 1]) of the exact value inside the range, min or max outside it; null when no pixel is valid",
			}),
		histogram: z.object({
			edges: z.array(z.number()).openapi({ description: "Bin edges, one more than the counts", example: [-1, 0, 1] }),
			counts: z.array(z.number().int().min(0)).openapi({ example: [5120, 60416] }),
			below_range: z
				.number()
				.int()
				.min(0)
				.openapi({ description: "Valid pixels below the first edge, in no bin", example: 0 }),
			above_range: z
				.number()
				.int()
				.min(0)
				.openapi({ description: "Valid pixels above the last edge, in no bin", example: 0 }),
		}),
	})
	.openapi("Statistics");

export type JobStatistics = z.infer<typeof StatisticsSchema>;

/** Edges as numpy.linspace makes them: start + i * step, the last one exactly `last`. */
export function histogramEdges({ first, last, bins }: HistogramSpec): number[] {
	const step = (last - first) / bins;
	return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? last : first + i * step));
}

/**
 * The value at `percent` of the sorted valid values, numpy's linear method (the order statistic
 * at (count - 1) x percent / 100, interpolated), with the values of each bin taken as spread
 * evenly over it; clamped to [min, max], which are exact.
 */
function estimatePercentile(
	percent: number,
	histogram: { spec: HistogramSpec; counts: readonly number[]; below: number },
	count: number,
	min: number,
	max: number,
): number {
	const rank = ((count - 1) * percent) / 100;
	const { first, last, bins } = histogram.spec;
	const width = (last - first) / bins;
	let before = histogram.below;
	if (rank < before) return min;
	for (let bin = 0; bin < bins; bin++) {
		const inBin = histogram.counts[bin] ?? 0;
		if (rank < before + inBin) {
			const value = first + (bin + (rank - before + 0.5) / inBin) * width;
			return Math.min(max, Math.max(min, value));
		}
		before += inBin;
	}
	return max;
}

export function mergeStripStats(
	formula: Pick<CompiledFormula, "index" | "expression" | "constants" | "histogram">,
	inputs: Readonly<Record<string, Pick<JobInputRequest, "scale" | "offset">>>,
	strips: readonly StripOutput[],
): JobStatistics {
	const range = formula.histogram;
	let count = 0;
	let nodata = 0;
	let min: number | null = null;
	let max: number | null = null;
	let mean = 0;
	let m2 = 0;
	let below = 0;
	let above = 0;
	const counts = new Array<number>(range.bins).fill(0);
	const fineCounts = new Array<number>(PERCENTILE_BINS).fill(0);
	for (const strip of strips) {
		strip.percentile_counts.forEach((binCount, bin) => {
			fineCounts[bin] = (fineCounts[bin] ?? 0) + binCount;
		});
		nodata += strip.nodata_count;
		below += strip.below_range;
		above += strip.above_range;
		strip.histogram_counts.forEach((binCount, bin) => {
			counts[bin] = (counts[bin] ?? 0) + binCount;
		});
		if (strip.count === 0) continue;
		const stripMean = strip.sum / strip.count;
		const merged = count + strip.count;
		const delta = stripMean - mean;
		mean += (delta * strip.count) / merged;
		m2 += strip.m2 + (delta * delta * count * strip.count) / merged;
		count = merged;
		if (strip.min !== null) min = min === null ? strip.min : Math.min(min, strip.min);
		if (strip.max !== null) max = max === null ? strip.max : Math.max(max, strip.max);
	}
	const percentile = (percent: number) =>
		min === null || max === null
			? null
			: estimatePercentile(percent, { spec: percentileHistogram(range), counts: fineCounts, below }, count, min, max);
	const [p2, p50, p98] = REPORTED_PERCENTILES.map(percentile);
	return {
		index: formula.index ?? EXPRESSION_INDEX,
		expression: formula.expression,
		constants: formula.constants,
		inputs: Object.fromEntries(Object.entries(inputs).map(([name, { scale, offset }]) => [name, { scale, offset }])),
		count,
		nodata_count: nodata,
		min,
		max,
		mean: count > 0 ? mean : null,
		std: count > 0 ? Math.sqrt(m2 / count) : null,
		percentiles: { p2: p2 ?? null, p50: p50 ?? null, p98: p98 ?? null },
		histogram: { edges: histogramEdges(range), counts, below_range: below, above_range: above },
	};
}
