/**
 * The zonal process's window: reads the window of the date's inputs, evaluates the formula there
 * (the Wasm evaluator, as the index process does), tells each pixel valid, nodata or masked, and
 * weighs every field the window touches by its coverage. A field that lies wholly in the window
 * is finished here; one cut by the window's edge keeps its weighed values for publish to join
 * with its other windows'. What the window found is stored in R2 (a window may weigh thousands of
 * fields), and compute records only how many.
 */
import type { JobRecord } from "../../db/jobs";
import { jobFormula } from "../../indices/formula";
import type { StripSpan } from "../../pipeline/plan";
import type { StageContext } from "../../pipeline/stage";
import { type DecodedInput, readWindowInputs } from "../../pipeline/window-inputs";
import { pixelCoverage } from "../../raster/coverage";
import { MASK_FATE, maskFates } from "../../raster/mask";
import type { PixelWindow } from "../../raster/read";
import { SAMPLE_ARRAYS, type SampleArray } from "../../raster/samples";
import { objectKeys } from "../../storage/keys";
import { kernels } from "../../wasm/index";
import { maskRule } from "../index/request";
import { featureExtents, jobFeatures } from "./features";
import { datePlan, zonalPlan } from "./plan";
import { zonalDates } from "./request";
import { type ZoneStatistics, zoneStatistics } from "./statistics";
import { WeightedStatistics } from "./weighted-statistics";

/** What a window stores: its finished fields' statistics, and the partial weighings of the others. */
export interface WindowFields {
	/** Field position → its statistics, for a field the window holds whole. */
	finished: Record<string, ZoneStatistics>;
	/** Field position → its weighed values so far (the accumulator's bytes, base64), for a field cut by the window's edge. */
	partial: Record<string, string>;
}

export interface ZonalWindowOutput {
	fields: number;
	partial_fields: number;
}

/** The window's values (NaN: nodata or NaN from the formula) and each pixel's fate under the date's mask. */
interface WindowPixels {
	values: Float32Array;
	fates: Uint8Array | null;
}

/**
 * Evaluates the formula over the window. Synchronous from the arena to the copy of its output,
 * so no other window of this isolate can make an arena meanwhile.
 */
function evaluateWindow(
	job: JobRecord,
	date: ReturnType<typeof zonalDates>[number],
	decodedInputs: ReadonlyMap<string, DecodedInput>,
	window: PixelWindow,
): WindowPixels {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const inputs = formula.inputs.map((name) => {
		const jobInput = date.inputs[name] ?? name;
		const requested = job.request.inputs[jobInput];
		const decoded = decodedInputs.get(jobInput);
		const type = decoded?.window.sampleTypes[decoded.position];
		if (!requested || !decoded || !type) throw new Error(`job ${job.id}: input ${jobInput} was not read`);
		return { decoded, type, scaling: { nodata: decoded.nodata, scale: requested.scale, offset: requested.offset } };
	});
	const pixels = (window.rowEnd - window.rowStart) * (window.colEnd - window.colStart);
	const arena = kernels.arena({ pixels, inputs });
	inputs.forEach(({ decoded }, i) => {
		decoded.window.copyBand(decoded.position, arena.inputs[i] as SampleArray);
	});
	const evaluated = arena.evaluate(
		formula.program,
		inputs.map((input) => input.scaling),
	);
	for (const { decoded } of inputs) decoded.window.maskEmptyBlocks(decoded.position, evaluated);
	const values = evaluated.slice();
	let fates: Uint8Array | null = null;
	if (date.mask) {
		const jobInput = date.inputs[date.mask.input] ?? date.mask.input;
		const decoded = decodedInputs.get(jobInput);
		const type = decoded?.window.sampleTypes[decoded.position];
		if (!decoded || !type) throw new Error(`job ${job.id}: the mask's input ${jobInput} was not read`);
		const samples = new SAMPLE_ARRAYS[type](pixels);
		decoded.window.copyBand(decoded.position, samples);
		if (decoded.window.hasEmptyBlocks(decoded.position)) {
			// A block of the mask stored empty is nodata there, as it is for the formula's inputs.
			const marked = Float32Array.from(samples);
			decoded.window.maskEmptyBlocks(decoded.position, marked);
			fates = maskFates(marked, maskRule(date.mask), decoded.nodata);
		} else fates = maskFates(samples, maskRule(date.mask), decoded.nodata);
	}
	return { values, fates };
}

/** The base64 alphabet's character codes (RFC 4648, with padding). */
const BASE64_CODES = new TextEncoder().encode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
const PAD = 61; // "="

/**
 * What btoa gives for the bytes, by table into a byte array decoded once: a window's partial
 * fields are megabytes, which a string built through String.fromCharCode and btoa took about a
 * millisecond per field to encode (bench:fields).
 */
export function base64(bytes: Uint8Array): string {
	const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
	const whole = bytes.length - (bytes.length % 3);
	let o = 0;
	for (let i = 0; i < whole; i += 3) {
		const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
		out[o++] = BASE64_CODES[n >>> 18] as number;
		out[o++] = BASE64_CODES[(n >>> 12) & 63] as number;
		out[o++] = BASE64_CODES[(n >>> 6) & 63] as number;
		out[o++] = BASE64_CODES[n & 63] as number;
	}
	if (whole < bytes.length) {
		const n = ((bytes[whole] as number) << 16) | ((bytes[whole + 1] ?? 0) << 8);
		out[o++] = BASE64_CODES[n >>> 18] as number;
		out[o++] = BASE64_CODES[(n >>> 12) & 63] as number;
		out[o++] = whole + 1 < bytes.length ? (BASE64_CODES[(n >>> 6) & 63] as number) : PAD;
		out[o++] = PAD;
	}
	return new TextDecoder().decode(out);
}

export function fromBase64(text: string): Uint8Array {
	const binary = atob(text);
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

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
	const decoded = await readWindowInputs(env, job, datePlan(plan, date), window);
	const { values, fates } = evaluateWindow(job, requestDate, decoded, window);
	const width = window.colEnd - window.colStart;
	const extents = featureExtents(
		planned.features.map((f) => features[f] as (typeof features)[number]),
		date.grid,
	);
	const stored: WindowFields = { finished: {}, partial: {} };
	planned.features.forEach((f, i) => {
		const extent = extents[i];
		if (!extent) return;
		const accumulator = new WeightedStatistics();
		const weights = pixelCoverage(extent.polygons, rule, window);
		if (weights) {
			for (let row = 0; row < weights.height; row++) {
				const at = (weights.rowStart + row - window.rowStart) * width + (weights.colStart - window.colStart);
				for (let column = 0; column < weights.width; column++) {
					const weight = weights.weights[row * weights.width + column] as number;
					if (!(weight > 0)) continue;
					const pixel = at + column;
					const fate = fates ? fates[pixel] : MASK_FATE.kept;
					const value = values[pixel] as number;
					if (fate === MASK_FATE.masked) accumulator.addMasked(weight);
					else if (fate === MASK_FATE.nodata || Number.isNaN(value)) accumulator.addNodata(weight);
					else accumulator.add(value, weight);
				}
			}
		}
		if (contains(window, extent.window)) stored.finished[f] = zoneStatistics(accumulator, job.request);
		else stored.partial[f] = base64(accumulator.toBytes());
	});
	await env.BUCKET.put(objectKeys.zonalWindow(job.id, window.index), JSON.stringify(stored));
	return { fields: planned.features.length, partial_fields: Object.keys(stored.partial).length };
}
