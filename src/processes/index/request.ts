/**
 * What a job of the index process asks for beyond every job's inputs: a catalog index or a
 * custom expression, constants, and how stats.json bins the result. Checked and compiled at
 * submission (the formula is stored with the job).
 */
import { z } from "@hono/zod-openapi";
import type { JobRequest } from "../../db/jobs";
import { MAX_FORMULA_DEPTH, MAX_FORMULA_LENGTH } from "../../formula/parse";
import { type CompiledFormula, compileFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import { AoiSchema } from "../../raster/aoi";
import { OutputOptionsSchema } from "../../raster/output-type";
import { MAX_HISTOGRAM_BINS } from "../../wasm/kernels";
import { MaskSchema } from "../mask";
import { DEFAULT_HISTOGRAM_BINS } from "./statistics";

const HistogramOptionsSchema = z
	.strictObject({
		range: z
			.tuple([z.number(), z.number()])
			.refine(([first, last]) => first < last, { message: "the range's first edge must be below its last" })
			.optional()
			.openapi({
				description:
					"Fixed first and last edges, for histograms comparable across jobs; values outside are counted in below_range and above_range. Without it the edges span the job's own minimum and maximum.",
				example: [-1, 1],
			}),
		bins: z
			.number()
			.int()
			.min(1)
			.max(MAX_HISTOGRAM_BINS)
			.default(DEFAULT_HISTOGRAM_BINS)
			.openapi({ description: "Equal-width bins between the edges", example: 20 }),
	})
	.openapi("HistogramOptions", {
		description: "How stats.json bins the result: counts are what numpy.histogram(values, bins, range) gives, exactly.",
	});

/** The index process's own fields of POST /v1/jobs. */
export const indexRequestFields = {
	index: z.string().min(1).optional().openapi({
		description:
			"A catalog index id (the Awesome Spectral Indices short name), case-insensitive: NDVI, EVI, NBR, …; GET /v1/indices lists them. Give index or expression.",
		example: "ndvi",
	}),
	expression: z
		.string()
		.min(1)
		.optional()
		.openapi({
			description: `A formula over the input names: numbers, + - * /, ** (power), unary minus, parentheses and min max abs sqrt exp log tanh clamp(x, lo, hi); comparisons < <= > >= == != (1 or 0), and, or, not, where(condition, a, b) and nan; on integer bands & | << >> and bit(x, n), which read the raw samples (before scale and offset). Python's precedence; a comparison with a NaN operand is NaN. At most ${MAX_FORMULA_LENGTH} characters and ${MAX_FORMULA_DEPTH} levels of nesting. Give index or expression.`,
			example: "(nir - red) / (nir + red + 0.5) * 1.5",
		}),
	constants: z
		.record(z.string(), z.number())
		.optional()
		.openapi({
			description:
				"Values of the index's constants, overriding the catalog defaults (e.g. L for SAVI); with an expression, extra named values it uses",
			example: { L: 0.5 },
		}),
	histogram: HistogramOptionsSchema.optional(),
	mask: MaskSchema.optional(),
	output: OutputOptionsSchema.optional(),
	grid: z
		.strictObject({
			like: z.string().min(1).openapi({ description: "The input whose grid the output takes", example: "swir16" }),
		})
		.optional()
		.openapi("GridOptions", {
			description:
				"The output grid: by default the finest input's. Inputs in one CRS whose pixel sizes are integer multiples of each other and whose origins fall on the finest grid are resampled onto it (see each input's `resampling`)",
		}),
	aoi: AoiSchema.optional(),
};

/**
 * Field problems of an index request that the fields alone cannot show: index or expression,
 * not both; a mask and a grid that name one of the inputs.
 */
export function indexRequestIssues(request: {
	index?: string | undefined;
	expression?: string | undefined;
	inputs: Record<string, unknown>;
	mask?: { input: string } | undefined;
	grid?: { like: string } | undefined;
}): { path: (string | number)[]; message: string }[] {
	const issues: { path: (string | number)[]; message: string }[] = [];
	if ((request.index === undefined) === (request.expression === undefined)) {
		issues.push({
			path: [request.index === undefined ? "index" : "expression"],
			message: request.index === undefined ? "give index or expression" : "give index or expression, not both",
		});
	}
	if (request.grid && !Object.hasOwn(request.inputs, request.grid.like)) {
		const names = Object.keys(request.inputs).join(", ");
		issues.push({ path: ["grid", "like"], message: `names no input (the inputs are ${names})` });
	}
	if (request.mask && !Object.hasOwn(request.inputs, request.mask.input)) {
		const names = Object.keys(request.inputs).join(", ");
		issues.push({ path: ["mask", "input"], message: `names no input (the inputs are ${names})` });
	}
	return issues;
}

/** The formula compiled against the request's inputs (a 422 ApiError when it cannot be), and the job's index id. */
export function prepareIndexJob(request: JobRequest): { indexId: string; formula: CompiledFormula } {
	const formula = compileFormula(request);
	return { indexId: formula.index ?? EXPRESSION_INDEX, formula };
}
