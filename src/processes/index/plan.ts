import { ApiError } from "../../errors/api-error";
import { type CompiledFormula, jobFormula } from "../../indices/formula";
import type { JobPlan } from "../../pipeline/plan";
import type { InspectedInput } from "../../pipeline/raster-plan";
import { planRasterWindows } from "../../pipeline/raster-plan";
import type { StageContext } from "../../pipeline/stage";
import { storeWorkingSetBytes, widestStorableWidth } from "../../pipeline/store/budget";
import { checkMaskInput, checkRawInputs } from "../input-checks";

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

/** Inputs the formula compares or reads bitwise: class or bit bands when they hold integers. */
function classInputsOf(formula: CompiledFormula): Set<string> {
	return new Set(formula.comparedInputs);
}

export async function planIndexJob(
	{ env, job }: StageContext,
	inputs: readonly InspectedInput[],
): Promise<JobPlan | ApiError> {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const plan = planRasterWindows(env, job, inputs, classInputsOf(formula));
	if (plan instanceof ApiError) return plan;
	const sameName = (name: string) => name;
	return (
		checkMaskInput(job.request.mask, plan, sameName) ??
		checkRawInputs(formula, plan, sameName) ??
		checkStoreBudget(plan, env.STORE_BUDGET_BYTES) ??
		plan
	);
}
