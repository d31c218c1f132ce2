/**
 * compute: one strip, a window of rows x columns. Reads the window of every input, runs the
 * job's compiled formula in the WebAssembly evaluator with the statistics gathered as it goes,
 * writes the window's compressed output tiles, its 2 x 2 average (the source of the overviews),
 * its quantile sketch and its partial statistics, and counts completion idempotently; the
 * delivery that completes the last strip starts the histogram's second pass, or store when the
 * request fixed the histogram's edges (then binned here).
 *
 * Each input's decoded rows are copied straight into views of Wasm memory (an arena) and
 * evaluated there, and the output is read where the evaluator wrote it. A window wider than the
 * plan's chunk_columns is decoded once and evaluated chunk by chunk (./chunks.ts).
 * An arena is valid only until the next one is made, and another strip may run in this isolate
 * whenever this one awaits, so everything that touches the arena runs in one synchronous stretch:
 * after every block is decoded and before any output is stored.
 */
import type { JobRecord } from "../../db/jobs";
import { completeStrip, getStrip } from "../../db/windows";
import { ApiError } from "../../errors/api-error";
import type { CompiledFormula } from "../../indices/formula";
import { inputReadFailure } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import { type DecodedWindow, type PixelWindow, readWindow } from "../../raster/read";
import type { RemoteByteBudget } from "../../raster/remote";
import { jobRemoteBudget } from "../../raster/remote-budget";
import type { SampleArray, SampleType } from "../../raster/samples";
import { encodeTiles, halve } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import { encodeTile, kernels } from "../../wasm/index";
import type { InputScaling, WindowStats } from "../../wasm/kernels";
import { fileOf, type JobPlan, type PlannedInput } from "../plan";
import { sketchBytes } from "../publish/quantile-sketch";
import { fixedHistogram, type InputSample, REFLECTANCE_LIMIT, type StripOutput } from "../publish/statistics";
import { sendToStage } from "../send";
import { done, failed, type StageHandler } from "../stage";
import { windowProgress } from "../stages";
import { continueWindows, startWindows, type WindowCompletion, type WindowMessage, windowMessage } from "../windows";
import { type ChunkOutput, computeInChunks } from "./chunks";

/** Where an input's samples are: a decoded window of its file, and its band's position in it. */
interface DecodedInput {
	window: DecodedWindow;
	position: number;
}

/** Decodes each file once for all of its bands this job uses. */
async function readInputs(
	env: Env,
	remote: { allowedHosts: readonly string[] | null; budget: RemoteByteBudget },
	inputs: readonly PlannedInput[],
	window: PixelWindow,
): Promise<Map<string, DecodedInput>> {
	const byFile = Map.groupBy(inputs, fileOf);
	const decodedInputs = new Map<string, DecodedInput>();
	for (const group of byFile.values()) {
		const [first] = group;
		if (!first) continue;
		const bands = [...new Set(group.map((input) => input.band))];
		let decoded: DecodedWindow;
		try {
			const { image } = await openRasterFile(env, {
				objectKey: first.object_key,
				href: first.href,
				bytes: first.bytes,
				etag: first.etag,
				allowedHosts: remote.allowedHosts,
				remoteBudget: remote.budget,
			});
			decoded = await readWindow(image, bands, window);
		} catch (error) {
			throw inputReadFailure(
				{ name: first.name, uploadId: first.upload_id, href: first.href },
				error,
				`decoding rows ${window.rowStart}-${window.rowEnd}, columns ${window.colStart}-${window.colEnd}`,
			);
		}
		for (const input of group) decodedInputs.set(input.name, { window: decoded, position: bands.indexOf(input.band) });
	}
	return decodedInputs;
}

export const computeStage: StageHandler<WindowMessage> = {
	message: windowMessage,
	async handle(message, { env, job }) {
		const { plan, formula } = job;
		const strip = await getStrip(env.DB, job.id, message.strip_index);
		const window = plan?.strips[message.strip_index];
		if (!plan || !formula || !strip || !window) {
			throw new Error(`job ${job.id}: strip ${message.strip_index} is not planned`);
		}

		if (!strip.done) {
			let computed: ChunkOutput;
			try {
				computed = await readAndCompute(env, job, plan, formula, window);
			} catch (error) {
				if (error instanceof ApiError) return failed(error);
				throw error;
			}
			const stored = await storeStrip(env, job.id, message.strip_index, computed);
			const completion = await completeStrip(env.DB, job.id, message.strip_index, stored, windowProgress("compute"));
			return finish(env, job, plan, message, completion, window);
		}
		const completion = await completeStrip(env.DB, job.id, message.strip_index, null, windowProgress("compute"));
		return finish(env, job, plan, message, completion, window, true);
	},
};

/**
 * Decodes the window of every input, then computes the strip from it. The decoded blocks are
 * dropped when this returns, before anything is stored.
 */
async function readAndCompute(
	env: Env,
	job: JobRecord,
	plan: JobPlan,
	formula: CompiledFormula,
	window: PixelWindow,
): Promise<ChunkOutput> {
	const allowedHosts = job.request.remote?.allowed_hosts ?? null;
	const budget = jobRemoteBudget(env, job.id);
	let decodedInputs: Map<string, DecodedInput>;
	try {
		decodedInputs = await readInputs(env, { allowedHosts, budget }, plan.inputs, window);
	} finally {
		await budget.settle();
	}
	const inputs = formula.inputs.map((name) => {
		const planned = plan.inputs.find((candidate) => candidate.name === name);
		const requested = job.request.inputs[name];
		const decoded = decodedInputs.get(name);
		const type = decoded?.window.sampleTypes[decoded.position];
		if (!planned || !requested || !decoded || !type) throw new Error(`job ${job.id}: input ${name} was not read`);
		return { decoded, type, scaling: { nodata: planned.nodata, scale: requested.scale, offset: requested.offset } };
	});
	return computeInChunks(window, plan.chunk_columns, (chunk) =>
		computeStrip(
			chunk,
			inputs.map((input) => ({
				...input,
				decoded: { ...input.decoded, window: input.decoded.window.columns(chunk.colStart, chunk.colEnd) },
			})),
			formula,
			job,
		),
	);
}

/** Every how many pixels an input is sampled for the warnings: prime, so rows do not line up. */
const INPUT_SAMPLE_STEP = 97;

/**
 * Copies each input's decoded window into an arena, evaluates the formula there with the
 * statistics gathered as the output is written, and takes from the output what the strip
 * stores: its compressed tiles and its 2 x 2 average. Synchronous, so no other strip can make
 * an arena meanwhile.
 */
function computeStrip(
	window: PixelWindow,
	inputs: readonly { decoded: DecodedInput; type: SampleType; scaling: InputScaling }[],
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
	const masked = inputs.some(({ decoded }) => decoded.window.hasEmptyBlocks(decoded.position));
	let stats: WindowStats;
	if (masked) {
		// Blocks stored empty are marked after evaluation, so the statistics are read after that.
		const values = arena.evaluate(formula.program, scaling);
		for (const { decoded } of inputs) decoded.window.maskEmptyBlocks(decoded.position, values);
		stats = arena.outputStats(histogram);
	} else {
		stats = arena.evaluateWithStats(formula.program, scaling, histogram);
	}
	const raster = { values: arena.output, width, height };
	return { tiles: encodeTiles(raster, encodeTile), half: halve(raster).values, stats, inputSamples };
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
 * Stores the window's output tiles (one object, row-major), its 2 x 2 average and its quantile
 * sketch, and returns what store and publish need from D1: the tiles' byte counts and the
 * partial statistics.
 */
async function storeStrip(
	env: Env,
	jobId: string,
	stripIndex: number,
	{ tiles, half, stats, inputSamples }: ChunkOutput,
): Promise<StripOutput> {
	await env.BUCKET.put(objectKeys.stripTiles(jobId, stripIndex), new Blob(tiles));
	await env.BUCKET.put(objectKeys.stripHalf(jobId, stripIndex), half);
	await env.BUCKET.put(objectKeys.stripSketch(jobId, stripIndex), sketchBytes(stats.sketch));
	const { sketch, histogram, ...partials } = stats;
	return {
		...partials,
		tile_bytes: tiles.map((tile) => tile.byteLength),
		...(histogram ? { histogram } : {}),
		...(inputSamples ? { input_samples: inputSamples } : {}),
	};
}

/**
 * Queues the next window; whichever delivery sees no window left starts the next stage: the
 * histogram's second pass over the stored tiles, or store when the request fixed the edges.
 */
async function finish(
	env: Env,
	job: JobRecord,
	plan: JobPlan,
	message: WindowMessage,
	completion: WindowCompletion,
	window: PixelWindow,
	alreadyDone = false,
) {
	await continueWindows(env, "compute", plan, message, completion, {
		alreadyDone,
		isDone: async (index) => (await getStrip(env.DB, job.id, index))?.done ?? false,
	});
	if (completion.remaining === 0) {
		const next = { job_id: message.job_id, trace_id: message.trace_id };
		if (fixedHistogram(job.request)) await sendToStage(env, "store", next);
		else await startWindows(env, "histogram", plan, next);
	}
	return done({
		rows: [window.rowStart, window.rowEnd],
		columns: [window.colStart, window.colEnd],
		remaining: completion.remaining,
		total: completion.total,
		...(alreadyDone ? { already_done: true } : {}),
	});
}
