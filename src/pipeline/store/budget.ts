/**
 * What store holds at most in one invocation, which bounds the results it can build: validate's
 * planning (by the process that writes result.tif) refuses a raster whose store would not fit.
 */
import { cogLevels } from "../../raster/cog-writer";
import { layoutWorkingSetBytes } from "./layout";
import { overviewWorkingSetBytes } from "./overviews";

/** Size of every part but the last of result.tif's multipart upload. */
export const RESULT_PART_BYTES = 8 * 1024 * 1024;

/**
 * Bytes one store invocation holds at most for a `width` x `height` result: an overview block
 * (the top one, with its coarser levels), a part of result.tif, or the layout, which alone grows
 * with the raster (a few hundred bytes a tile). validate refuses a raster over STORE_BUDGET_BYTES.
 */
export function storeWorkingSetBytes(width: number, height: number): number {
	return Math.max(overviewWorkingSetBytes(), RESULT_PART_BYTES, layoutWorkingSetBytes(cogLevels(width, height)));
}

/** The widest result of this height whose store fits `budgetBytes` (0 when none does). */
export function widestStorableWidth(height: number, budgetBytes: number): number {
	let fits = 0;
	let over = 2 ** 32;
	while (over - fits > 1) {
		const width = Math.floor((fits + over) / 2);
		if (storeWorkingSetBytes(width, height) <= budgetBytes) fits = width;
		else over = width;
	}
	return fits;
}
