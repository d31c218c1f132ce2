/**
 * The index process's plan: windows over its inputs' grid (src/pipeline/raster-plan.ts), for a
 * result.tif that store can build within STORE_BUDGET_BYTES.
 */
import { ApiError } from "../../errors/api-error";
import type { JobPlan } from "../../pipeline/plan";
import type { InspectedInput } from "../../pipeline/raster-plan";
import { planRasterWindows } from "../../pipeline/raster-plan";
import type { StageContext } from "../../pipeline/stage";
import { storeWorkingSetBytes, widestStorableWidth } from "../../pipeline/store/budget";

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

export async function planIndexJob(
	{ env, job }: StageContext,
	inputs: readonly InspectedInput[],
): Promise<JobPlan | ApiError> {
	const plan = planRasterWindows(env, job, inputs);
	if (plan instanceof ApiError) return plan;
	return checkStoreBudget(plan, env.STORE_BUDGET_BYTES) ?? plan;
}
