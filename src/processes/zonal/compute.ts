/**
 * The zonal process's window: reads the window of the date's inputs (each block decoded once),
 * and for every field the window touches evaluates the formula over the field's box (the Wasm
 * evaluator, as the index process does), tells each pixel valid, nodata or masked, and weighs it
 * by its coverage. A field that lies wholly in the window
 * is finished here; one cut by the window's edge keeps its weighed values for publish to join
 * with its other windows'. What the window found is stored in R2 (a window may weigh thousands of
 * fields), and compute records only how many.
 */
import type { JobRecord } from "../../db/jobs";
import { type CompiledFormula, jobFormula } from "../../indices/formula";
import type { StripSpan } from "../../pipeline/plan";
import type { StageContext } from "../../pipeline/stage";
import { type DecodedInput, withWindowInputs } from "../../pipeline/window-inputs";
import { CoverageScratch, type PixelCoverage, pixelCoverage } from "../../raster/coverage";
import { MASK_FATE, type MaskRule, maskFates } from "../../raster/mask";
import type { PixelWindow } from "../../raster/read";
import { SAMPLE_ARRAYS, type SampleArray, type SampleType } from "../../raster/samples";
import { objectKeys } from "../../storage/keys";
import { kernels } from "../../wasm/index";
import type { InputScaling } from "../../wasm/kernels";
import { maskRule } from "../mask";
import { featureExtents, jobFeatures } from "./features";
import { datePlan, zonalPlan } from "./plan";
import { datePath, zonalDates } from "./request";
import { percentileKey, requestedPercentiles, zoneStatistics } from "./statistics";
import { isolateAccumulator, type WeightedStatistics } from "./weighted-statistics";
import { WindowFieldsWriter } from "./window-fields";

export interface ZonalWindowOutput {
	fields: number;
	partial_fields: number;
}

/**
 * A band of the window as a field reads it: each field's box is copied straight from the decoded
 * blocks, so the window's pixels are held once (a copy of each band as well doubled the window's
 * memory and cost a pass over pixels that fields mostly do not cover).
 */
interface WindowBand {
	decoded: DecodedInput;
	type: SampleType;
}

/**
 * The window's samples as the fields read them: each formula input's band with its scaling, the
 * date's mask band and rule, and the pixels any of them holds in a block stored empty (nodata).
 * Fields cover a small share of a window, so the formula is evaluated per field, over its box.
 */
interface WindowSamples {
	width: number;
	inputs: (WindowBand & { scaling: InputScaling })[];
	mask: (WindowBand & { rule: MaskRule; nodata: number | null; empty: Uint8Array | null }) | null;
	/** 1 where a formula input lies in a block stored empty; null when none does. */
	empty: Uint8Array | null;
}

/** 1 where any of `bands` lies in a block stored empty; null when none does. */
function emptyPixels(bands: readonly DecodedInput[], pixels: number): Uint8Array | null {
	const withEmpty = bands.filter((decoded) => decoded.window.hasEmptyBlocks(decoded.position));
	if (withEmpty.length === 0) return null;
	const marked = new Float32Array(pixels);
	for (const decoded of withEmpty) decoded.window.maskEmptyBlocks(decoded.position, marked);
	return Uint8Array.from(marked, (value) => (Number.isNaN(value) ? 1 : 0));
}

function windowSamples(
	job: JobRecord,
	date: ReturnType<typeof zonalDates>[number],
	decodedInputs: ReadonlyMap<string, DecodedInput>,
	window: PixelWindow,
	formula: CompiledFormula,
): WindowSamples {
	const width = window.colEnd - window.colStart;
	const pixels = (window.rowEnd - window.rowStart) * width;
	const decodedBand = (jobInput: string): DecodedInput => {
		const decoded = decodedInputs.get(jobInput);
		if (!decoded) throw new Error(`job ${job.id}: input ${jobInput} was not read`);
		return decoded;
	};
	const band = (decoded: DecodedInput): WindowBand => {
		const type = decoded.window.sampleTypes[decoded.position];
		if (!type) throw new Error(`job ${job.id}: a band was not decoded`);
		return { decoded, type };
	};
	const inputs = formula.inputs.map((name) => {
		const jobInput = date.inputs[name] ?? name;
		const requested = job.request.inputs[jobInput];
		if (!requested) throw new Error(`job ${job.id}: input ${jobInput} is not requested`);
		const decoded = decodedBand(jobInput);
		return { ...band(decoded), scaling: { nodata: decoded.nodata, scale: requested.scale, offset: requested.offset } };
	});
	let mask: WindowSamples["mask"] = null;
	if (date.mask) {
		const decoded = decodedBand(date.inputs[date.mask.input] ?? date.mask.input);
		const empty = emptyPixels([decoded], pixels);
		mask = { ...band(decoded), rule: maskRule(date.mask), nodata: decoded.nodata, empty };
	}
	const empty = emptyPixels(
		formula.inputs.map((name) => decodedBand(date.inputs[name] ?? name)),
		pixels,
	);
	return { width, inputs, mask, empty };
}

/**
 * Weighs one field over its box of the window (relative to the window): the formula evaluated
 * there in the Wasm evaluator, each pixel with weight > 0 added as masked, nodata or valid. All
 * synchronous, so no other window of this isolate can make an arena meanwhile.
 */
function weighField(
	samples: WindowSamples,
	formula: CompiledFormula,
	weights: PixelCoverage,
	window: PixelWindow,
	accumulator: WeightedStatistics,
): void {
	const box = {
		rowStart: weights.rowStart - window.rowStart,
		rowEnd: weights.rowStart - window.rowStart + weights.height,
		colStart: weights.colStart - window.colStart,
		colEnd: weights.colStart - window.colStart + weights.width,
	};
	const pixels = weights.width * weights.height;
	const arena = kernels.arena({ pixels, inputs: samples.inputs });
	samples.inputs.forEach(({ decoded }, i) => {
		decoded.window.copyBox(decoded.position, box, arena.inputs[i] as SampleArray);
	});
	const values = arena.evaluate(
		formula.program,
		samples.inputs.map((input) => input.scaling),
	);
	let fates: Uint8Array | null = null;
	if (samples.mask) {
		const { decoded, type, rule, nodata } = samples.mask;
		const boxed = new SAMPLE_ARRAYS[type](pixels);
		decoded.window.copyBox(decoded.position, box, boxed);
		fates = maskFates(boxed, rule, nodata);
	}
	const { weights: coverage, width, height } = weights;
	const windowStart = box.rowStart * samples.width + box.colStart;
	const maskEmpty = samples.mask?.empty ?? null;
	weighPixels(
		accumulator,
		coverage,
		width,
		height,
		values,
		fates,
		maskEmpty,
		samples.empty,
		windowStart,
		samples.width,
	);
}

/**
 * Adds each pixel of a field's box (`width` x `height`) with weight > 0 in `coverage` to
 * `accumulator` as masked, nodata or valid. `values` and `fates` (null without a mask) are over
 * the box; `maskEmpty` and `inputEmpty` (1 where the mask's or an input's block is stored empty,
 * null where none is) over the window, `windowWidth` wide, the box's first pixel at
 * `windowStart`. Apart from weighField, and of typed arrays and the isolate's accumulator alone:
 * weighField's optimized code also held the window's own objects, so V8 threw it away after each
 * window and compiled it again (bench:fields).
 */
function weighPixels(
	accumulator: WeightedStatistics,
	coverage: Float64Array,
	width: number,
	height: number,
	values: Float32Array,
	fates: Uint8Array | null,
	maskEmpty: Uint8Array | null,
	inputEmpty: Uint8Array | null,
	windowStart: number,
	windowWidth: number,
): void {
	for (let row = 0; row < height; row++) {
		const windowRow = windowStart + row * windowWidth;
		const boxRow = row * width;
		for (let column = 0; column < width; column++) {
			const pixel = boxRow + column;
			const weight = coverage[pixel] as number;
			if (!(weight > 0)) continue;
			// A block of the mask stored empty is nodata there, as it is for the formula's inputs.
			const fate =
				maskEmpty !== null && maskEmpty[windowRow + column] === 1
					? MASK_FATE.nodata
					: fates !== null
						? fates[pixel]
						: MASK_FATE.kept;
			const value = values[pixel] as number;
			if (fate === MASK_FATE.masked) accumulator.addMasked(weight);
			else if (
				fate === MASK_FATE.nodata ||
				Number.isNaN(value) ||
				(inputEmpty !== null && inputEmpty[windowRow + column] === 1)
			) {
				accumulator.addNodata(weight);
			} else accumulator.add(value, weight);
		}
	}
}

/**
 * The coverage scratch every window of the isolate weighs its fields with, one field at a time,
 * kept for the isolate as {@link isolateAccumulator} is and for the same reason.
 */
const scratch = new CoverageScratch();

function contains(outer: PixelWindow, inner: PixelWindow): boolean {
	return (
		outer.rowStart <= inner.rowStart &&
		inner.rowEnd <= outer.rowEnd &&
		outer.colStart <= inner.colStart &&
		inner.colEnd <= outer.colEnd
	);
}

export async function computeZonalWindow(
	{ env, job }: StageContext,
	_plan: unknown,
	window: StripSpan,
): Promise<ZonalWindowOutput> {
	const plan = zonalPlan(job);
	const planned = plan.zonal.windows[window.index];
	const date = planned && plan.zonal.dates[planned.date];
	const requestDate = planned && zonalDates(job.request)[planned.date];
	if (!planned || !date || !requestDate) throw new Error(`job ${job.id}: window ${window.index} is not planned`);
	const features = await jobFeatures(env, job);
	const rule = job.request.coverage ?? "fraction";
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const stored = new WindowFieldsWriter(requestedPercentiles(job.request).map(percentileKey));
	await withWindowInputs(env, job, datePlan(plan, date), window, (decoded) => {
		const samples = windowSamples(job, requestDate, decoded, window, formula);
		const extents = featureExtents(features, date.grid, datePath(job.request, planned.date), planned.features);
		try {
			planned.features.forEach((f, i) => {
				const extent = extents[i];
				if (!extent) return;
				isolateAccumulator.clear();
				const weights = pixelCoverage(extent.polygons, rule, window, scratch);
				if (weights) weighField(samples, formula, weights, window, isolateAccumulator);
				if (contains(window, extent.window)) stored.finish(f, zoneStatistics(isolateAccumulator, job.request));
				else stored.cut(f, isolateAccumulator.toBytes());
			});
		} finally {
			// A large last field's pairs and deposits are let go rather than held until the next
			// window, also when a field failed.
			isolateAccumulator.clear();
			scratch.release();
		}
	});
	await env.BUCKET.put(objectKeys.zonalWindow(job.id, window.index), stored.toBytes());
	return { fields: planned.features.length, partial_fields: stored.partialFields };
}
