/**
 * The zonal process's plan: for each date, the inputs on one grid as the index process reads
 * them (src/pipeline/raster-plan.ts), and windows planned around the fields. The raster's own
 * windows (block-aligned, each block in one window, under the memory budget) are kept only
 * where some field lies, and cut down to the blocks the fields there touch: fields that share
 * blocks share a window, so each block is decoded once per job however many fields touch it.
 */
import type { JobRecord } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { type FieldFeature, featureBounds } from "../../fields/collection";
import { jobFormula } from "../../indices/formula";
import type { JobPlan, PlannedInput, StripSpan } from "../../pipeline/plan";
import { type InspectedInput, planRasterWindows } from "../../pipeline/raster-plan";
import type { StageContext } from "../../pipeline/stage";
import { geotransformOf } from "../../raster/georeference";
import type { Grid } from "../../raster/grid";
import type { PixelWindow } from "../../raster/read";
import { checkMaskInput, checkRawInputs } from "../input-checks";
import { type FeatureExtent, featureExtents, jobFeatures } from "./features";
import { datePath, MAX_FIELD_DATES, type ZonalDate, zonalDates } from "./request";

/** One date of the plan: its grid, and the names of its inputs among the plan's. */
export interface PlannedDate {
	datetime: string | null;
	grid: Grid;
	inputs: string[];
}

/** A zonal job's plan: the windows' dates and fields beside the pipeline's plan. */
export interface ZonalPlan extends JobPlan {
	zonal: {
		dates: PlannedDate[];
		/** Per window (the plan's strips, by index): its date and the fields (by position) it weighs. */
		windows: { date: number; features: number[] }[];
	};
}

export function zonalPlan(job: JobRecord): ZonalPlan {
	const plan = job.plan as ZonalPlan | null;
	if (!plan?.zonal) throw new Error(`job ${job.id} has no zonal plan`);
	return plan;
}

/** The plan as withWindowInputs reads one date: its grid and its inputs alone. */
export function datePlan(plan: ZonalPlan, date: PlannedDate): JobPlan {
	const { zonal: _, area: __, ...rest } = plan;
	const inputs = new Set(date.inputs);
	return {
		...rest,
		width: date.grid.width,
		height: date.grid.height,
		geo: date.grid.crs,
		inputs: plan.inputs.filter((input) => inputs.has(input.name)),
	};
}

type Box = [number, number, number, number];

/** The area two boxes share (0 when apart). */
function sharedArea(a: Box, b: Box): number {
	return (
		Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0])) * Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]))
	);
}

/**
 * Which dates weigh which fields. A date of its own weighs every field. An acquisition of several
 * STAC items is several dates at one datetime, each with its item's footprint: each field is
 * weighed on exactly one of them, the first whose footprint holds the field's box, else the one
 * sharing most of it, else the first; publish reports the acquisition as one date.
 */
export function fieldsByDate(dates: readonly ZonalDate[], features: readonly FieldFeature[]): (Set<number> | null)[] {
	const chosen: (Set<number> | null)[] = dates.map((date) => (date.footprint ? new Set() : null));
	const groups = new Map<string, number[]>();
	dates.forEach((date, d) => {
		if (!date.footprint || date.datetime === null) return;
		const key = new Date(date.datetime).toISOString();
		groups.set(key, [...(groups.get(key) ?? []), d]);
	});
	// Only an acquisition of several items needs the fields' boxes.
	const boxes = groups.size === 0 ? [] : features.map((feature) => featureBounds(feature.polygons));
	for (const group of groups.values()) {
		boxes.forEach((box, f) => {
			const footprint = (d: number) => dates[d]?.footprint as Box;
			const holding = group.find((d) => {
				const [west, south, east, north] = footprint(d);
				return west <= box[0] && south <= box[1] && box[2] <= east && box[3] <= north;
			});
			const most = group.reduce((best, d) =>
				sharedArea(footprint(d), box) > sharedArea(footprint(best), box) ? d : best,
			);
			chosen[holding ?? most]?.add(f);
		});
	}
	return chosen;
}

/** Two windows overlap. */
function overlap(a: PixelWindow, b: PixelWindow): boolean {
	return a.colStart < b.colEnd && b.colStart < a.colEnd && a.rowStart < b.rowEnd && b.rowStart < a.rowEnd;
}

function intersection(a: PixelWindow, b: PixelWindow): PixelWindow {
	return {
		rowStart: Math.max(a.rowStart, b.rowStart),
		rowEnd: Math.min(a.rowEnd, b.rowEnd),
		colStart: Math.max(a.colStart, b.colStart),
		colEnd: Math.min(a.colEnd, b.colEnd),
	};
}

/** `window` grown outward to whole blocks of `block` columns x rows, within `bounds`. */
function toBlocks(window: PixelWindow, block: { width: number; height: number }, bounds: PixelWindow): PixelWindow {
	return intersection(
		{
			rowStart: Math.floor(window.rowStart / block.height) * block.height,
			rowEnd: Math.ceil(window.rowEnd / block.height) * block.height,
			colStart: Math.floor(window.colStart / block.width) * block.width,
			colEnd: Math.ceil(window.colEnd / block.width) * block.width,
		},
		bounds,
	);
}

/**
 * The rectangles of whole blocks that cover `extents` inside `bounds`: each extent's blocks,
 * joined while any two overlap, so no block lies in two rectangles.
 */
export function blockRectangles(
	extents: readonly PixelWindow[],
	block: { width: number; height: number },
	bounds: PixelWindow,
): PixelWindow[] {
	let rectangles = extents.map((extent) => toBlocks(intersection(extent, bounds), block, bounds));
	let joined = true;
	while (joined) {
		joined = false;
		const next: PixelWindow[] = [];
		for (const rectangle of rectangles) {
			const other = next.findIndex((candidate) => overlap(candidate, rectangle));
			if (other === -1) {
				next.push(rectangle);
				continue;
			}
			const into = next[other] as PixelWindow;
			next[other] = {
				rowStart: Math.min(into.rowStart, rectangle.rowStart),
				rowEnd: Math.max(into.rowEnd, rectangle.rowEnd),
				colStart: Math.min(into.colStart, rectangle.colStart),
				colEnd: Math.max(into.colEnd, rectangle.colEnd),
			};
			joined = true;
		}
		rectangles = next;
	}
	return rectangles;
}

/** A window of the plan: whole blocks of a strip, and the fields (by position) whose parts touch it. */
interface FieldWindow {
	rectangle: PixelWindow;
	features: number[];
}

/**
 * Adds to `inStrip` the fields (by position) with a part in `strip`, and their parts there to
 * `partsInStrip`. Indexed loops, no closures or iterators: every strip looks at every field of
 * the plan. Apart from fieldWindows so that V8 optimizes this loop alone: optimized on the stack
 * with the rest of fieldWindows, it took the optimizing compiler 150 to 200 ms of wall time
 * (under load, bench:fields), counted in the validate stage's CPU.
 */
function fieldsInStrip(
	extents: readonly (FeatureExtent | null)[],
	strip: StripSpan,
	inStrip: { f: number; parts: PixelWindow[] }[],
	partsInStrip: PixelWindow[],
): void {
	for (let f = 0; f < extents.length; f++) {
		const extent = extents[f];
		if (!extent || !overlap(extent.window, strip)) continue;
		const before = partsInStrip.length;
		for (const part of extent.parts) if (overlap(part, strip)) partsInStrip.push(part);
		if (partsInStrip.length > before) inStrip.push({ f, parts: extent.parts });
	}
}

/**
 * The windows of a date: in each of the raster's strips, the rectangles of whole blocks that the
 * fields' parts there touch (a MultiPolygon's parts read their own blocks, not those of the box
 * around them all), each with the fields touching it.
 */
function fieldWindows(
	extents: readonly (FeatureExtent | null)[],
	strips: readonly StripSpan[],
	block: { width: number; height: number },
): FieldWindow[] {
	const windows: FieldWindow[] = [];
	// The box around every field: a strip outside it (most of them, for fields in one region) holds none.
	const all = { rowStart: Infinity, rowEnd: -Infinity, colStart: Infinity, colEnd: -Infinity };
	for (const extent of extents) {
		if (!extent) continue;
		all.rowStart = Math.min(all.rowStart, extent.window.rowStart);
		all.rowEnd = Math.max(all.rowEnd, extent.window.rowEnd);
		all.colStart = Math.min(all.colStart, extent.window.colStart);
		all.colEnd = Math.max(all.colEnd, extent.window.colEnd);
	}
	for (const strip of strips) {
		if (!overlap(all, strip)) continue;
		const inStrip: { f: number; parts: PixelWindow[] }[] = [];
		const partsInStrip: PixelWindow[] = [];
		fieldsInStrip(extents, strip, inStrip, partsInStrip);
		if (inStrip.length === 0) continue;
		for (const rectangle of blockRectangles(partsInStrip, block, strip)) {
			const features = inStrip.filter(({ parts }) => parts.some((part) => overlap(part, rectangle))).map(({ f }) => f);
			windows.push({ rectangle, features });
		}
	}
	return windows;
}

/** The block every window aligns to: the largest of the inputs read on the date's grid as they are. */
function alignment(inputs: readonly PlannedInput[]): { width: number; height: number } {
	const onGrid = inputs.filter((input) => !input.placement);
	const of = onGrid.length > 0 ? onGrid : inputs;
	return {
		width: Math.max(1, ...of.map((input) => input.block_width)),
		height: Math.max(1, ...of.map((input) => input.block_height)),
	};
}

/** The grid a date's plan lies on: georeferenced and north-up (or south-up), for the fields to be placed on it. */
function gridOf(plan: JobPlan, at: string): Grid {
	const geotransform = geotransformOf(plan.geo);
	if (!geotransform) {
		throw new ApiError("raster-mismatch", "the inputs have no georeference, so the fields cannot be placed on them", {
			errors: [{ path: `${at}inputs`, message: "not georeferenced" }],
		});
	}
	if (geotransform[2] !== 0 || geotransform[4] !== 0) {
		throw new ApiError(
			"unsupported-raster",
			"the inputs' grid is rotated; fields are placed on grids without rotation",
			{
				errors: [{ path: `${at}inputs`, message: "a rotated grid (its geotransform has rotation terms)" }],
			},
		);
	}
	return { geotransform, width: plan.width, height: plan.height, crs: plan.geo };
}

/**
 * Plans every date on its inputs' grid, then keeps the windows where fields lie, cut to the
 * blocks they touch. The pixel quota counts the pixels the fields cover, on every date.
 */
export async function planZonalJob(
	{ env, job }: StageContext,
	inspected: readonly InspectedInput[],
): Promise<ZonalPlan | ApiError> {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const features = await jobFeatures(env, job);
	const dates = zonalDates(job.request);
	// Submission counted the dates it was given; a search's are known only now.
	const acquisitions = new Set(dates.map((date) => date.datetime && new Date(date.datetime).toISOString())).size;
	if (features.length * acquisitions > MAX_FIELD_DATES) {
		const message = `${features.length} fields on the ${acquisitions} dates found make ${features.length * acquisitions} statistics; a job computes at most ${MAX_FIELD_DATES}`;
		return new ApiError("invalid-stac", message, { errors: [{ path: "stac_search", message }] });
	}
	const weighed = fieldsByDate(dates, features);
	const planned: PlannedDate[] = [];
	const inputs: PlannedInput[] = [];
	const strips: StripSpan[] = [];
	const windows: ZonalPlan["zonal"]["windows"] = [];
	let pixels = 0;
	let first: JobPlan | undefined;
	const windowsByGrid = new Map<string, FieldWindow[]>();
	for (const [d, date] of dates.entries()) {
		const names = new Set(Object.values(date.inputs));
		const mask = date.mask && { ...date.mask, input: date.inputs[date.mask.input] ?? date.mask.input };
		const view = { ...job, request: { ...job.request, mask } };
		const compared = new Set(formula.comparedInputs.map((name) => date.inputs[name] ?? name));
		const at = datePath(job.request, d);
		let plan: JobPlan | ApiError;
		let grid: Grid;
		try {
			plan = planRasterWindows(
				env,
				view,
				inspected.filter((entry) => names.has(entry.input.name)),
				compared,
			);
			if (plan instanceof ApiError) return plan;
			const jobInput = (name: string) => date.inputs[name] ?? name;
			const problem = checkMaskInput(date.mask, plan, jobInput, at) ?? checkRawInputs(formula, plan, jobInput, at);
			if (problem) return problem;
			grid = gridOf(plan, at);
		} catch (error) {
			if (error instanceof ApiError) return error;
			throw error;
		}
		first ??= plan;
		planned.push({ datetime: date.datetime, grid, inputs: [...names] });
		inputs.push(...plan.inputs);
		const chosen = weighed[d];
		const extents = featureExtents(features, grid, at).map((extent, f) => (!chosen || chosen.has(f) ? extent : null));
		pixels += extents.reduce((sum, extent) => sum + (extent?.pixels ?? 0), 0);
		const block = alignment(plan.inputs);
		// A series' dates on one grid, every field weighed on each, have the same windows.
		const key = chosen ? null : JSON.stringify([grid, block, plan.strips]);
		let dateWindows = key === null ? undefined : windowsByGrid.get(key);
		if (!dateWindows) {
			dateWindows = fieldWindows(extents, plan.strips, block);
			if (key !== null) windowsByGrid.set(key, dateWindows);
		}
		for (const { rectangle, features: touching } of dateWindows) {
			strips.push({ index: strips.length, ...rectangle, inputs: [...names] });
			windows.push({ date: d, features: [...touching] });
		}
	}
	if (!first) throw new Error(`job ${job.id} has no dates`);
	return {
		...first,
		inputs,
		strips,
		pixels: Math.ceil(pixels),
		zonal: { dates: planned, windows },
	};
}

export type { FeatureExtent };
