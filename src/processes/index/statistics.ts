/**
 * Job statistics merged from the windows' partials, over every full-resolution pixel. Means and
 * variances merge with Chan's parallel formula (mergeMoments). Percentiles come from the merged
 * quantile sketch (./quantile-sketch.ts), within a stated relative error for any distribution;
 * the histogram's counts are exact, over edges the request fixed or that span the job's own values.
 */
import { z } from "@hono/zod-openapi";
import type { JobInputRequest, JobRequest } from "../../db/jobs";
import type { CompiledFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import { outputTypes, quantize, unscale } from "../../raster/output-type";
import type { HistogramCounts, HistogramSpec, WindowStats } from "../../wasm/kernels";
import { type QuantileSketch, SKETCH_RELATIVE_ERROR } from "./quantile-sketch";

/** Bins of stats.json's histogram unless the request says. */
export const DEFAULT_HISTOGRAM_BINS = 20;

/** The percentiles stats.json reports, in percent. */
const REPORTED_PERCENTILES = [2, 50, 98] as const;

/** What one compute window records in D1 (its sketch is an object of its own in R2). */
export interface StripOutput extends Omit<WindowStats, "sketch" | "histogram"> {
	/** Pixels the request's mask dropped; absent in windows computed before masks. */
	masked_count?: number;
	/**
	 * Byte count of each of the window's encoded output tiles, row-major within the window;
	 * absent when compute stored its values for the histogram pass to encode (WindowBins).
	 */
	tile_bytes?: number[];
	/** Its histogram over the request's fixed edges; absent when the edges come from the data. */
	histogram?: HistogramCounts;
	/** What the window's inputs look like, for the warnings (see inputSampleOf). */
	input_samples?: Record<string, InputSample>;
}

/** What the histogram pass records for a window: its counts, and its tiles' byte counts when it encoded them. */
export interface WindowBins extends HistogramCounts {
	tile_bytes?: number[];
}

/** Of a sample of an input's valid values (after scale and offset): how many, and how many far out of [0, 1]. */
export interface InputSample {
	sampled: number;
	far_outside: number;
}

/** A value is far outside reflectance beyond this magnitude (bright snow reaches about 1.5). */
export const REFLECTANCE_LIMIT = 2;

/** Whether stats.json's histogram edges are known before the job runs. */
export function fixedHistogram(request: Pick<JobRequest, "histogram">): HistogramSpec | null {
	const range = request.histogram?.range;
	if (!range) return null;
	return { first: range[0], last: range[1], bins: request.histogram?.bins ?? DEFAULT_HISTOGRAM_BINS };
}

/**
 * The histogram of a job whose edges come from its values: numpy.histogram(values, bins)'s,
 * which span [min, max], widened by 0.5 each way when they are equal (by a few ulps of values
 * too large for 0.5 to change), and [0, 1] without values.
 */
export function dataHistogram(
	request: Pick<JobRequest, "histogram" | "output">,
	extremes: { min: number | null; max: number | null },
): HistogramSpec {
	const bins = request.histogram?.bins ?? DEFAULT_HISTOGRAM_BINS;
	const { min, max } = storedExtremes(extremes, request.output);
	if (min === null || max === null) return { first: 0, last: 1, bins };
	if (min === max) {
		// numpy's ± 0.5; past 2^52 that leaves a constant where it is, so it widens by its own ulps.
		const widen = Math.max(0.5, Math.abs(min) * 2 ** -50);
		return { first: min - widen, last: max + widen, bins };
	}
	return { first: min, last: max, bins };
}

/**
 * The extremes as result.tif stores them: an integer output's second pass bins the values its
 * tiles hold (each within scale / 2 of the value computed), whose extremes are the computed
 * ones quantised; float32 stores the values themselves.
 */
function storedExtremes(
	extremes: { min: number | null; max: number | null },
	output: JobRequest["output"],
): { min: number | null; max: number | null } {
	const { min, max } = extremes;
	if (!output || outputTypes[output.data_type].predictor !== 2 || min === null || max === null) return extremes;
	const type = outputTypes[output.data_type];
	const [storedMin, storedMax] = unscale(quantize(new Float32Array([min, max]), output), {
		...output,
		nodata: type.nodata,
	});
	return { min: storedMin ?? min, max: storedMax ?? max };
}

/** The exact minimum and maximum over the windows' partials, null when no value is valid. */
export function mergedExtremes(strips: readonly Pick<StripOutput, "min" | "max">[]): {
	min: number | null;
	max: number | null;
} {
	let min: number | null = null;
	let max: number | null = null;
	for (const strip of strips) {
		if (strip.min !== null) min = min === null ? strip.min : Math.min(min, strip.min);
		if (strip.max !== null) max = max === null ? strip.max : Math.max(max, strip.max);
	}
	return { min, max };
}

/** Something in a job's result that looks wrong, with what to do about it. */
export const JobWarningSchema = z
	.object({
		code: z.enum(["inputs-not-reflectance", "no-valid-pixels", "fields-outside-inputs"]).openapi({
			description:
				"`inputs-not-reflectance`: an index that adds constants to its inputs over values far from reflectance (a missing scale and offset); `no-valid-pixels`: every pixel is nodata or masked, so the statistics are null; `fields-outside-inputs`: fields of a zonal job that no date's inputs cover. More codes may come: show an unknown code's message",
			example: "inputs-not-reflectance",
		}),
		input: z.string().optional().openapi({ description: "The input it concerns", example: "nir" }),
		message: z.string().openapi({
			example:
				"EVI adds L = 1 to terms of its inputs, which assumes reflectance (about 0 to 1), but 100% of 'nir' values are beyond ±2 after scale 1 and offset 0: set inputs.nir.scale and offset (…)",
		}),
	})
	.openapi("JobWarning");

export type JobWarning = z.infer<typeof JobWarningSchema>;

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
		nodata_count: z.number().int().min(0).openapi({
			description:
				"Pixels not masked that are nodata in any input (the mask's input included), NaN from the formula, or outside the AOI polygon",
			example: 0,
		}),
		masked_count: z
			.number()
			.int()
			.min(0)
			.openapi({ description: "Pixels the request's mask dropped, whatever else they are", example: 0 }),
		min: nullableNumber("null when no pixel is valid", -0.21),
		max: nullableNumber("null when no pixel is valid", 0.87),
		mean: nullableNumber("null when no pixel is valid", 0.41),
		std: nullableNumber("Population standard deviation (ddof = 0), as numpy's default", 0.18),
		percentiles: z
			.object({ p2: z.number().nullable(), p50: z.number().nullable(), p98: z.number().nullable() })
			.openapi({
				description: `numpy.percentile's (linear method) from the merged quantile sketch: each order statistic it interpolates between is within percentile_relative_error (${SKETCH_RELATIVE_ERROR}) of the exact one, relative to its value, for any distribution; the 0th and last are the exact min and max. Null when no pixel is valid.`,
			}),
		percentile_relative_error: z.number().openapi({
			description: "The bound on the percentiles' error, relative to each value",
			example: SKETCH_RELATIVE_ERROR,
		}),
		histogram: z.object({
			edges: z.array(z.number()).openapi({
				description:
					"Bin edges, one more than the counts: numpy.linspace(first, last, bins + 1) over the request's range, or over the job's min and max (as numpy.histogram without a range: widened by 0.5 when they are equal, [0, 1] without valid pixels)",
				example: [-1, 0, 1],
			}),
			range_source: z.enum(["request", "data"]).openapi({
				description: "Whether the edges came from the request's histogram.range or span the job's values",
			}),
			counts: z.array(z.number().int().min(0)).openapi({
				description:
					"Valid pixels per bin, exactly as numpy.histogram(values, bins=edges) counts them: each bin holds its first edge, the last bin its last edge too",
				example: [5120, 60416],
			}),
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
		warnings: z.array(JobWarningSchema).openapi({ description: "What in the result looks wrong, and why" }),
	})
	.openapi("Statistics");

export type JobStatistics = z.infer<typeof StatisticsSchema>;

/** Edges as numpy.linspace makes them: start + i * step, the last one exactly `last`. */
export function histogramEdges({ first, last, bins }: HistogramSpec): number[] {
	const step = (last - first) / bins;
	return Array.from({ length: bins + 1 }, (_, i) => (i === bins ? last : first + i * step));
}

/**
 * numpy.percentile's linear method: the order statistic at (count - 1) x percent / 100,
 * interpolated between its neighbours, here read from the sketch; the first and last order
 * statistics are the exact min and max.
 */
function percentiles(
	percents: readonly number[],
	sketch: QuantileSketch,
	{ count, min, max }: { count: number; min: number; max: number },
): number[] {
	const positions = percents.map((percent) => ((count - 1) * percent) / 100);
	const ranks = [...new Set(positions.flatMap((rank) => [Math.floor(rank), Math.ceil(rank)]))].sort((a, b) => a - b);
	const interior = ranks.filter((rank) => rank > 0 && rank < count - 1);
	const sketched = sketch.orderStatistics(interior);
	const estimates = new Map(interior.map((rank, i) => [rank, Math.min(max, Math.max(min, sketched[i] as number))]));
	const orderStatistic = (rank: number) => (rank <= 0 ? min : rank >= count - 1 ? max : (estimates.get(rank) ?? min));
	return positions.map((rank) => {
		const below = orderStatistic(Math.floor(rank));
		const above = orderStatistic(Math.ceil(rank));
		return below + (rank - Math.floor(rank)) * (above - below);
	});
}

/** What means and variances merge from: a count, a sum and the sum of squared deviations from the mean. */
export interface Moments {
	count: number;
	sum: number;
	m2: number;
}

/**
 * The moments of two disjoint sets of values from each one's, by Chan's parallel formula,
 * which stays exact where a running sum of squares would lose digits.
 */
export function mergeMoments(a: Moments, b: Moments): Moments {
	const count = a.count + b.count;
	let m2 = a.m2 + b.m2;
	if (a.count > 0 && b.count > 0) {
		const delta = b.sum / b.count - a.sum / a.count;
		m2 += (delta * delta * a.count * b.count) / count;
	}
	return { count, sum: a.sum + b.sum, m2 };
}

/** Everything stats.json is made of, besides the windows' partials. */
export interface MergeInputs {
	formula: Pick<CompiledFormula, "index" | "expression" | "constants">;
	inputs: Readonly<Record<string, Pick<JobInputRequest, "scale" | "offset">>>;
	/** The histogram's edges, and whether the request fixed them. */
	histogram: { spec: HistogramSpec; source: "request" | "data"; counts: HistogramCounts };
	sketch: QuantileSketch;
	warnings: JobWarning[];
}

export function mergeStripStats(strips: readonly StripOutput[], merge: MergeInputs): JobStatistics {
	const { formula, inputs, histogram, sketch, warnings } = merge;
	const { count, sum, m2 } = strips.reduce(mergeMoments, { count: 0, sum: 0, m2: 0 });
	const nodata = strips.reduce((total, strip) => total + strip.nodata_count, 0);
	const masked = strips.reduce((total, strip) => total + (strip.masked_count ?? 0), 0);
	const { min, max } = mergedExtremes(strips);
	if (sketch.count !== count) throw new Error(`the sketch holds ${sketch.count} values, the windows ${count}`);
	const [p2 = null, p50 = null, p98 = null] =
		min === null || max === null ? [] : percentiles(REPORTED_PERCENTILES, sketch, { count, min, max });
	return {
		index: formula.index ?? EXPRESSION_INDEX,
		expression: formula.expression,
		constants: formula.constants,
		inputs: Object.fromEntries(Object.entries(inputs).map(([name, { scale, offset }]) => [name, { scale, offset }])),
		count,
		nodata_count: nodata,
		masked_count: masked,
		min,
		max,
		mean: count > 0 ? sum / count : null,
		std: count > 0 ? Math.sqrt(m2 / count) : null,
		percentiles: { p2, p50, p98 },
		percentile_relative_error: SKETCH_RELATIVE_ERROR,
		histogram: {
			edges: histogramEdges(histogram.spec),
			range_source: histogram.source,
			counts: histogram.counts.counts,
			below_range: histogram.counts.below,
			above_range: histogram.counts.above,
		},
		warnings,
	};
}

/** Counts of `spec`'s bins, all zero. */
export function emptyHistogram(spec: HistogramSpec): HistogramCounts {
	return { counts: new Array<number>(spec.bins).fill(0), below: 0, above: 0 };
}

/** Adds `more` to `total`, bin by bin. */
export function addHistogram(total: HistogramCounts, more: HistogramCounts): void {
	if (more.counts.length !== total.counts.length) {
		throw new Error(`a histogram of ${more.counts.length} bins added to one of ${total.counts.length}`);
	}
	more.counts.forEach((count, bin) => {
		total.counts[bin] = (total.counts[bin] ?? 0) + count;
	});
	total.below += more.below;
	total.above += more.above;
}

/**
 * The warnings a job's result carries: an index that adds constants to its inputs (EVI's L,
 * SAVI's L, …) over inputs most of whose values are far outside reflectance, as raw counts are
 * when the request gives no scale and offset.
 */
export function resultWarnings(
	formula: Pick<CompiledFormula, "index" | "additiveConstants">,
	inputs: Readonly<Record<string, Pick<JobInputRequest, "scale" | "offset">>>,
	strips: readonly Pick<StripOutput, "input_samples" | "count" | "nodata_count" | "masked_count">[],
): JobWarning[] {
	const warnings: JobWarning[] = [];
	const valid = strips.reduce((total, strip) => total + strip.count, 0);
	if (valid === 0) {
		const masked = strips.reduce((total, strip) => total + (strip.masked_count ?? 0), 0);
		const nodata = strips.reduce((total, strip) => total + strip.nodata_count, 0);
		warnings.push({
			code: "no-valid-pixels",
			message: `No pixel has a value: ${nodata} are nodata in an input or NaN from the formula and ${masked} are masked, so the statistics are null. Check the inputs' nodata, the mask's rule and the area of interest.`,
		});
	}
	const additive = formula.additiveConstants ?? [];
	if (additive.length === 0) return warnings;
	for (const [name, { scale, offset }] of Object.entries(inputs)) {
		let sampled = 0;
		let farOutside = 0;
		for (const strip of strips) {
			sampled += strip.input_samples?.[name]?.sampled ?? 0;
			farOutside += strip.input_samples?.[name]?.far_outside ?? 0;
		}
		if (sampled === 0 || farOutside * 2 <= sampled) continue;
		const share = Math.round((farOutside / sampled) * 100);
		const what = formula.index ?? "The expression";
		warnings.push({
			code: "inputs-not-reflectance",
			input: name,
			message: `${what} adds ${additive.join(", ")} to terms of its inputs, which assumes reflectance (about 0 to 1), but ${share}% of '${name}' values are beyond ±${REFLECTANCE_LIMIT} after scale ${scale} and offset ${offset}: set inputs.${name}.scale and offset (Sentinel-2 L2A: scale 0.0001, offset -0.1 from baseline 04.00; Landsat C2 L2: 0.0000275 and -0.2).`,
		});
	}
	return warnings;
}
