/**
 * The index process's plan: windows over its inputs' grid (src/pipeline/raster-plan.ts), for a
 * result.tif that store can build within STORE_BUDGET_BYTES.
 */
import type { JobRecord } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { bitwiseTypeProblem, type CompiledFormula, jobFormula } from "../../indices/formula";
import type { JobPlan } from "../../pipeline/plan";
import type { InspectedInput } from "../../pipeline/raster-plan";
import { planRasterWindows } from "../../pipeline/raster-plan";
import type { StageContext } from "../../pipeline/stage";
import { storeWorkingSetBytes, widestStorableWidth } from "../../pipeline/store/budget";
import { INTEGER_SAMPLE_TYPES } from "../../raster/inspect";
import { maskRule } from "../mask";

const MiB = 1024 * 1024;

/** A result too wide for store to build its overviews within STORE_BUDGET_BYTES. */
function checkStoreBudget({ width, height }: JobPlan, budgetBytes: number): ApiError | null {
	const needed = storeWorkingSetBytes(width, height);
	if (needed <= budgetBytes) return null;
	const widest = widestStorableWidth(height, budgetBytes);
	return new ApiError(
		"raster-too-large",
		`the result is ${width} x ${height} pixels; building result.tif's overviews at that width takes ${(needed / MiB).toFixed(1)} MiB, over the ${(budgetBytes / MiB).toFixed(1)} MiB store budget (STORE_BUDGET_BYTES): ${widest > 0 ? `rasters of this height can be at most ${widest} pixels wide` : "no raster of this height fits it"}`,
	);
}

/**
 * The mask's input read as the rule needs it: raw classes or bits survive only nearest
 * resampling, and bits need an integer band.
 */
function checkMaskInput(job: JobRecord, plan: JobPlan): ApiError | null {
	const { mask } = job.request;
	if (!mask) return null;
	const input = plan.inputs.find((candidate) => candidate.name === mask.input);
	if (!input) return null;
	const resampling = input.placement?.resampling;
	if (resampling !== undefined && resampling !== "nearest") {
		return new ApiError(
			"invalid-inputs",
			`the mask's input '${mask.input}' lies on another grid and is resampled ${resampling}, which invents classes and bits; resample it nearest`,
			{ errors: [{ path: `inputs.${mask.input}.resampling`, message: "must be nearest for the mask's input" }] },
		);
	}
	const rule = maskRule(mask);
	if ("bits" in rule && !INTEGER_SAMPLE_TYPES.has(input.data_type)) {
		return new ApiError(
			"invalid-inputs",
			`the mask tests bits of '${mask.input}', whose samples are ${input.data_type}, not integers`,
			{ errors: [{ path: "mask.bits", message: `inputs.${mask.input} is ${input.data_type}, not an integer band` }] },
		);
	}
	return null;
}

/** Inputs the formula compares or reads bitwise: class or bit bands when they hold integers. */
function classInputsOf(formula: CompiledFormula): Set<string> {
	return new Set(formula.comparedInputs);
}

/** Inputs the formula reads bitwise must hold their raw integer samples: an integer band, read nearest. */
function checkRawInputs(formula: CompiledFormula, plan: JobPlan): ApiError | null {
	const planned = (name: string) => plan.inputs.find((input) => input.name === name);
	const typeProblem = bitwiseTypeProblem(formula, (name) => planned(name)?.data_type ?? "unknown");
	if (typeProblem) return typeProblem;
	for (const name of formula.rawInputs) {
		const resampling = planned(name)?.placement?.resampling;
		if (resampling === undefined || resampling === "nearest") continue;
		return new ApiError(
			"invalid-inputs",
			`the formula reads '${name}' bitwise, but it lies on another grid and is resampled ${resampling}, which invents bits; resample it nearest`,
			{ errors: [{ path: `inputs.${name}.resampling`, message: "must be nearest for an input read bitwise" }] },
		);
	}
	return null;
}

export async function planIndexJob(
	{ env, job }: StageContext,
	inputs: readonly InspectedInput[],
): Promise<JobPlan | ApiError> {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const plan = planRasterWindows(env, job, inputs, classInputsOf(formula));
	if (plan instanceof ApiError) return plan;
	return (
		checkMaskInput(job, plan) ?? checkRawInputs(formula, plan) ?? checkStoreBudget(plan, env.STORE_BUDGET_BYTES) ?? plan
	);
}
