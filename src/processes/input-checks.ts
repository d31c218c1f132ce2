/**
 * What a process checks of its planned inputs before any window runs, for every process that
 * masks or reads bands bitwise: raw classes or bits survive only nearest resampling, and bits
 * need an integer band. `jobInput` maps a request's input name to the job's (a time series'
 * dates name theirs `<date>/<name>`); `at` prefixes the paths (`dates[2].`).
 */
import type { JobRequest } from "../db/jobs";
import { ApiError } from "../errors/api-error";
import { bitwiseTypeProblem, type CompiledFormula } from "../indices/formula";
import type { JobPlan } from "../pipeline/plan";
import { INTEGER_SAMPLE_TYPES } from "../raster/inspect";
import { maskRule } from "./mask";

type JobInputName = (name: string) => string;

/** The mask's input read as the rule needs it. */
export function checkMaskInput(
	mask: JobRequest["mask"],
	plan: JobPlan,
	jobInput: JobInputName,
	at = "",
): ApiError | null {
	if (!mask) return null;
	const input = plan.inputs.find((candidate) => candidate.name === jobInput(mask.input));
	if (!input) return null;
	const resampling = input.placement?.resampling;
	if (resampling !== undefined && resampling !== "nearest") {
		return new ApiError(
			"invalid-inputs",
			`the mask's input '${mask.input}' lies on another grid and is resampled ${resampling}, which invents classes and bits; resample it nearest`,
			{ errors: [{ path: `${at}inputs.${mask.input}.resampling`, message: "must be nearest for the mask's input" }] },
		);
	}
	const rule = maskRule(mask);
	if ("bits" in rule && !INTEGER_SAMPLE_TYPES.has(input.data_type)) {
		return new ApiError(
			"invalid-inputs",
			`the mask tests bits of '${mask.input}', whose samples are ${input.data_type}, not integers`,
			{
				errors: [
					{ path: `${at}mask.bits`, message: `inputs.${mask.input} is ${input.data_type}, not an integer band` },
				],
			},
		);
	}
	return null;
}

/** Inputs the formula reads bitwise must hold their raw integer samples: an integer band, read nearest. */
export function checkRawInputs(
	formula: CompiledFormula,
	plan: JobPlan,
	jobInput: JobInputName,
	at = "",
): ApiError | null {
	const planned = (name: string) => plan.inputs.find((input) => input.name === jobInput(name));
	const typeProblem = bitwiseTypeProblem(formula, (name) => planned(name)?.data_type ?? "unknown");
	if (typeProblem) return typeProblem;
	for (const name of formula.rawInputs) {
		const resampling = planned(name)?.placement?.resampling;
		if (resampling === undefined || resampling === "nearest") continue;
		return new ApiError(
			"invalid-inputs",
			`the formula reads '${name}' bitwise, but it lies on another grid and is resampled ${resampling}, which invents bits; resample it nearest`,
			{ errors: [{ path: `${at}inputs.${name}.resampling`, message: "must be nearest for an input read bitwise" }] },
		);
	}
	return null;
}
