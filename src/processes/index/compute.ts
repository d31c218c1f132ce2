/**
 * The index process's window: runs the job's compiled formula over the window of every input in
 * the WebAssembly evaluator with the statistics gathered as it goes, and writes the window's
 * compressed output tiles (or, when the histogram pass will read its values again, the values
 * themselves, which that pass bins and encodes: ./histogram.ts), its 2 x 2 average (the source
 * of the overviews) and its quantile sketch; its partial statistics are what compute records for it.
 *
 * Each input's decoded rows are copied straight into views of Wasm memory (an arena) and
 * evaluated there, and the output is read where the evaluator wrote it. A window wider than the
 * plan's chunk_columns is decoded once and evaluated chunk by chunk (./chunks.ts).
 * An arena is valid only until the next one is made, and another window may run in this isolate
 * whenever this one awaits, so everything that touches the arena runs in one synchronous stretch:
 * after every block is decoded and before any output is stored.
 */
import type { JobRecord } from "../../db/jobs";
import { type CompiledFormula, jobFormula } from "../../indices/formula";
import type { JobPlan, StripSpan } from "../../pipeline/plan";
import type { StageContext } from "../../pipeline/stage";
import { type DecodedInput, withWindowInputs } from "../../pipeline/window-inputs";
import { aoiCentreMask } from "../../raster/aoi";
import { applyMask, type MaskRule } from "../../raster/mask";
import type { PixelWindow } from "../../raster/read";
import { SAMPLE_ARRAYS, type SampleArray, type SampleType } from "../../raster/samples";
import { type EncodedTiles, encodeTiles, halve } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import { kernels, tileEncoder } from "../../wasm/index";
import type { InputScaling, WindowStats } from "../../wasm/kernels";
import { maskRule } from "../mask";
import { type ChunkOutput, computeInChunks } from "./chunks";
import { sketchBytes } from "./quantile-sketch";
import { fixedHistogram, type InputSample, REFLECTANCE_LIMIT, type StripOutput } from "./statistics";

/** Computes and stores one window; its partial statistics are returned for compute to record. */
export async function computeIndexWindow(
	{ env, job }: StageContext,
	plan: JobPlan,
	window: StripSpan,
): Promise<StripOutput> {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	// The decoded blocks are released once the strip is computed, before anything is stored.
	const computed = await withWindowInputs(env, job, plan, window, (decodedInputs) =>
		computeFromInputs(job, plan, formula, window, decodedInputs),
	);
	return storeStrip(env, job.id, window.index, computed);
}

async function computeFromInputs(
	job: JobRecord,
	plan: JobPlan,
	formula: CompiledFormula,
	window: PixelWindow,
	decodedInputs: ReadonlyMap<string, DecodedInput>,
): Promise<ChunkOutput> {
	const inputs = formula.inputs.map((name) => {
		const requested = job.request.inputs[name];
		const decoded = decodedInputs.get(name);
		const type = decoded?.window.sampleTypes[decoded.position];
		if (!requested || !decoded || !type) throw new Error(`job ${job.id}: input ${name} was not read`);
		return { decoded, type, scaling: { nodata: decoded.nodata, scale: requested.scale, offset: requested.offset } };
	});
	const mask = windowMask(job, decodedInputs);
	const columnsOf = (decoded: DecodedInput, chunk: PixelWindow) => ({
		...decoded,
		window: decoded.window.columns(chunk.colStart, chunk.colEnd),
	});
	return computeInChunks(window, plan.chunk_columns, (chunk) =>
		computeStrip(
			chunk,
			inputs.map((input) => ({ ...input, decoded: columnsOf(input.decoded, chunk) })),
			mask && { ...mask, decoded: columnsOf(mask.decoded, chunk) },
			outsideArea(plan, chunk),
			formula,
			job,
		),
	);
}

/**
 * The pixels of `window` (of the output) whose centre lies outside the request's AOI polygon,
 * as 0 in a mask of the window (GDAL's cutline rule); null when every pixel is inside.
 */
function outsideArea(plan: JobPlan, window: PixelWindow): Uint8Array | null {
	const area = plan.area;
	if (!area?.polygons) return null;
	const { column, row } = area.origin;
	const onGrid = {
		rowStart: window.rowStart + row,
		rowEnd: window.rowEnd + row,
		colStart: window.colStart + column,
		colEnd: window.colEnd + column,
	};
	return aoiCentreMask({ polygons: area.polygons, extent: [0, 0, 0, 0] }, area.grid, onGrid);
}

/** The request's mask over the decoded window: its input's samples, rule and nodata; null without a mask. */
function windowMask(job: JobRecord, decodedInputs: ReadonlyMap<string, DecodedInput>): WindowMask | null {
	const { mask } = job.request;
	if (!mask) return null;
	const decoded = decodedInputs.get(mask.input);
	const type = decoded?.window.sampleTypes[decoded.position];
	if (!decoded || !type) throw new Error(`job ${job.id}: the mask's input ${mask.input} was not read`);
	return { decoded, type, rule: maskRule(mask), nodata: decoded.nodata };
}

interface WindowMask {
	decoded: DecodedInput;
	type: SampleType;
	rule: MaskRule;
	nodata: number | null;
}

/** Every how many pixels an input is sampled for the warnings: prime, so rows do not line up. */
const INPUT_SAMPLE_STEP = 97;

/**
 * Copies each input's decoded window into an arena, evaluates the formula there with the
 * statistics gathered as the output is written, and takes from the output what the strip
 * stores: its compressed tiles (or its values, left in the arena for computeInChunks to copy)
 * and its 2 x 2 average. Synchronous, so no other strip can make an arena meanwhile.
 */
function computeStrip(
	window: PixelWindow,
	inputs: readonly { decoded: DecodedInput; type: SampleType; scaling: InputScaling }[],
	mask: WindowMask | null,
	inside: Uint8Array | null,
	formula: CompiledFormula,
	job: JobRecord,
): ChunkOutput {
	const width = window.colEnd - window.colStart;
	const height = window.rowEnd - window.rowStart;
	const arena = kernels.arena({ pixels: width * height, inputs });
	inputs.forEach(({ decoded }, i) => {
		decoded.window.copyBand(decoded.position, arena.inputs[i] as SampleArray);
	});
	// Only formulas that add constants to their inputs can be misled by unscaled inputs.
	const inputSamples =
		(formula.additiveConstants ?? []).length > 0
			? Object.fromEntries(
					formula.inputs.map((name, i) => [
						name,
						sampleInput(arena.inputs[i] as SampleArray, (inputs[i] as { scaling: InputScaling }).scaling),
					]),
				)
			: undefined;
	const scaling = inputs.map((input) => input.scaling);
	const histogram = fixedHistogram(job.request);
	const read = mask ? [...inputs, mask] : inputs;
	const emptyBlocks = read.some(({ decoded }) => decoded.window.hasEmptyBlocks(decoded.position));
	let stats: WindowStats;
	let maskedCount = 0;
	if (emptyBlocks || mask || inside) {
		// The mask, the AOI and blocks stored empty are marked after evaluation, so the statistics are read after that.
		const values = arena.evaluate(formula.program, scaling);
		if (mask) {
			const samples = new SAMPLE_ARRAYS[mask.type](values.length);
			mask.decoded.window.copyBand(mask.decoded.position, samples);
			maskedCount = applyMask(values, samples, mask.rule, mask.nodata, inside);
		}
		if (inside) {
			// Outside the AOI polygon is nodata, as GDAL's cutline leaves it; the mask counted none of it.
			for (let i = 0; i < values.length; i++) if (inside[i] === 0) values[i] = Number.NaN;
		}
		for (const { decoded } of read) decoded.window.maskEmptyBlocks(decoded.position, values);
		stats = arena.outputStats(histogram);
		// A pixel the mask drops is masked, not nodata, even where an input is nodata too.
		stats.nodata_count -= maskedCount;
	} else {
		stats = arena.evaluateWithStats(formula.program, scaling, histogram);
	}
	const raster = { values: arena.output, width, height };
	return {
		// Without fixed edges the histogram pass reads every value again: from raw values it bins
		// without inflating tiles, and encodes them then, once.
		output: histogram ? { tiles: encodeTiles(raster, tileEncoder, job.request.output) } : { values: raster.values },
		half: halve(raster).values,
		stats,
		maskedCount,
		inputSamples,
	};
}

/** Of every INPUT_SAMPLE_STEP-th valid sample, after scale and offset: how many are far from reflectance. */
function sampleInput(samples: SampleArray, { nodata, scale, offset }: InputScaling): InputSample {
	let sampled = 0;
	let farOutside = 0;
	for (let i = 0; i < samples.length; i += INPUT_SAMPLE_STEP) {
		const raw = samples[i] as number;
		if (raw === nodata || Number.isNaN(raw)) continue;
		sampled++;
		if (Math.abs(raw * scale + offset) > REFLECTANCE_LIMIT) farOutside++;
	}
	return { sampled, far_outside: farOutside };
}

/**
 * Stores the window's output tiles (one object, row-major) or its values, its 2 x 2 average and
 * its quantile sketch, and returns what store and publish need from D1: the tiles' byte counts
 * (when it encoded them) and the partial statistics.
 */
async function storeStrip(
	env: Env,
	jobId: string,
	stripIndex: number,
	{ output, half, stats, maskedCount, inputSamples }: ChunkOutput,
): Promise<StripOutput> {
	const tileBytes = "tiles" in output ? await storeTiles(env, jobId, stripIndex, output.tiles) : undefined;
	if ("values" in output) await env.BUCKET.put(objectKeys.stripValues(jobId, stripIndex), output.values);
	await env.BUCKET.put(objectKeys.stripHalf(jobId, stripIndex), half);
	await env.BUCKET.put(objectKeys.stripSketch(jobId, stripIndex), sketchBytes(stats.sketch));
	const { sketch, histogram, ...partials } = stats;
	return {
		...partials,
		masked_count: maskedCount,
		...(tileBytes ? { tile_bytes: tileBytes } : {}),
		...(histogram ? { histogram } : {}),
		...(inputSamples ? { input_samples: inputSamples } : {}),
	};
}

/**
 * Stores a window's encoded output tiles as one object, row-major, and returns each one's byte
 * count: what store reads to place them in result.tif.
 */
export async function storeTiles(
	env: Env,
	jobId: string,
	stripIndex: number,
	{ bytes, tileBytes }: EncodedTiles,
): Promise<number[]> {
	await env.BUCKET.put(objectKeys.stripTiles(jobId, stripIndex), bytes);
	return tileBytes;
}
