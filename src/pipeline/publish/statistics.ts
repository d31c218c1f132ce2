/**
 * Job statistics merged from the strips' partials. Means and variances merge with Chan's
 * parallel formula, which stays exact where a running sum of squares would lose digits.
 */
import type { JobInputRequest } from "../../db/queries";
import type { CompiledFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import type { HistogramSpec, StripStats } from "../../wasm/kernels";

export interface JobStatistics {
	/** The catalog index id, or `expression` for a custom expression. */
	index: string;
	/** The formula evaluated, over the input and constant names. */
	expression: string;
	constants: Record<string, number>;
	/** The linear scaling applied to each input before the formula. */
	inputs: Record<string, { scale: number; offset: number }>;
	count: number;
	nodata_count: number;
	min: number | null;
	max: number | null;
	mean: number | null;
	/** Population standard deviation (ddof = 0), as numpy's default. */
	std: number | null;
	histogram: {
		edges: number[];
		counts: number[];
		/** Valid pixels below the first edge or above the last, not in any bin. */
		below_range: number;
		above_range: number;
	};
}

/** Edges as numpy.linspace makes them: start + i * step, the last one exactly `last`. */
export function histogramEdges({ first, last, bins }: HistogramSpec): number[] {
	const step = (last - first) / bins;
	return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? last : first + i * step));
}

export function mergeStripStats(
	formula: Pick<CompiledFormula, "index" | "expression" | "constants" | "histogram">,
	inputs: Readonly<Record<string, Pick<JobInputRequest, "scale" | "offset">>>,
	strips: readonly StripStats[],
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
	for (const strip of strips) {
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
		histogram: { edges: histogramEdges(range), counts, below_range: below, above_range: above },
	};
}
