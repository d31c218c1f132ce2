/**
 * compute: one strip, a window of rows x columns. Reads the window of every input, runs the
 * job's compiled formula in the WebAssembly evaluator, writes the window's compressed output tiles, its 2 x 2 average
 * (the source of the overviews) and its partial statistics, and counts completion
 * idempotently; the delivery that completes the last strip asks for store.
 *
 * Each input's decoded rows are copied straight into views of Wasm memory (an arena) and
 * evaluated there, and the output is read where the evaluator wrote it. A window wider than the
 * plan's chunk_columns is decoded once and evaluated chunk by chunk (./chunks.ts).
 * An arena is valid only until the next one is made, and another strip may run in this isolate
 * whenever this one awaits, so everything that touches the arena runs in one synchronous stretch:
 * after every block is decoded and before any output is stored.
 */
import { z } from "zod";
import { completeStrip, getStrip, type JobRecord, type StripCompletion } from "../../db/queries";
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
import type { InputScaling, StripStats } from "../../wasm/kernels";
import { jobMessage } from "../message";
import { fileOf, type JobPlan, type PlannedInput } from "../plan";
import { percentileHistogram, type StripOutput } from "../publish/statistics";
import { sendToStage } from "../send";
import { done, failed, type StageHandler } from "../stage";
import { computeProgress } from "../stages";
import { computeInChunks } from "./chunks";

export const computeMessage = jobMessage.extend({ strip_index: z.number().int().min(0) });
export type ComputeMessage = z.infer<typeof computeMessage>;

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

export const computeStage: StageHandler<ComputeMessage> = {
	message: computeMessage,
	async handle(message, { env, job }) {
		const { plan, formula } = job;
		const strip = await getStrip(env.DB, job.id, message.strip_index);
		const window = plan?.strips[message.strip_index];
		if (!plan || !formula || !strip || !window) {
			throw new Error(`job ${job.id}: strip ${message.strip_index} is not planned`);
		}

		if (!strip.done) {
			let computed: ComputedStrip;
			try {
				computed = await readAndCompute(env, job, plan, formula, window);
			} catch (error) {
				if (error instanceof ApiError) return failed(error);
				throw error;
			}
			const stored = await storeStrip(env, job.id, message.strip_index, computed);
			const completion = await completeStrip(env.DB, job.id, message.strip_index, stored, computeProgress);
			return finish(env, job.id, plan, message, completion, window);
		}
		const completion = await completeStrip(env.DB, job.id, message.strip_index, null, computeProgress);
		return finish(env, job.id, plan, message, completion, window, true);
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
): Promise<ComputedStrip> {
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
		),
	);
}

/** What a strip stores, none of it in Wasm memory. */
interface ComputedStrip {
	tiles: Uint8Array<ArrayBuffer>[];
	half: Float32Array;
	stats: StripStats;
	percentileCounts: number[];
}

/**
 * Copies each input's decoded window into an arena, evaluates the formula there, and takes from
 * the output everything the strip stores: its compressed tiles, its 2 x 2 average and its
 * partial statistics, with the fine histogram that percentiles come from. Synchronous, so no
 * other strip can make an arena meanwhile.
 */
function computeStrip(
	window: PixelWindow,
	inputs: readonly { decoded: DecodedInput; type: SampleType; scaling: InputScaling }[],
	formula: CompiledFormula,
): ComputedStrip {
	const width = window.colEnd - window.colStart;
	const height = window.rowEnd - window.rowStart;
	const arena = kernels.arena({ pixels: width * height, inputs });
	inputs.forEach(({ decoded }, i) => {
		decoded.window.copyBand(decoded.position, arena.inputs[i] as SampleArray);
	});
	const values = arena.evaluate(
		formula.program,
		inputs.map((input) => input.scaling),
	);
	for (const { decoded } of inputs) decoded.window.maskEmptyBlocks(decoded.position, values);
	const raster = { values, width, height };
	return {
		tiles: encodeTiles(raster, encodeTile),
		half: halve(raster).values,
		stats: arena.outputStats(formula.histogram),
		percentileCounts: arena.outputStats(percentileHistogram(formula.histogram)).histogram_counts,
	};
}

/**
 * Stores the window's output tiles (one object, row-major) and its 2 x 2 average, and returns
 * what store and publish need from D1: the tiles' byte counts and the partial statistics.
 */
async function storeStrip(
	env: Env,
	jobId: string,
	stripIndex: number,
	{ tiles, half, stats, percentileCounts }: ComputedStrip,
): Promise<StripOutput> {
	await env.BUCKET.put(objectKeys.stripTiles(jobId, stripIndex), new Blob(tiles));
	await env.BUCKET.put(objectKeys.stripHalf(jobId, stripIndex), half);
	return { ...stats, percentile_counts: percentileCounts, tile_bytes: tiles.map((tile) => tile.byteLength) };
}

/**
 * Queues the window `plan.windows_in_flight` places on (validate queued the first ones), so a
 * job holds at most that many places in the compute queue and other jobs' windows interleave
 * with its own. Whichever delivery sees no strip left sends store. A redelivery sends both again
 * when its first try may have died before sending (a lost message would never be sent again),
 * but not a next window already done, so a redelivery never starts a second chain.
 */
async function finish(
	env: Env,
	jobId: string,
	plan: JobPlan,
	message: ComputeMessage,
	{ remaining, total }: StripCompletion,
	window: PixelWindow,
	alreadyDone = false,
) {
	const next = plan.windows_in_flight === undefined ? total : message.strip_index + plan.windows_in_flight;
	if (next < total && !(alreadyDone && (await getStrip(env.DB, jobId, next))?.done)) {
		await sendToStage(env, "compute", { ...message, strip_index: next });
	}
	if (remaining === 0) await sendToStage(env, "store", { job_id: message.job_id, trace_id: message.trace_id });
	return done({
		rows: [window.rowStart, window.rowEnd],
		columns: [window.colStart, window.colEnd],
		remaining,
		total,
		...(alreadyDone ? { already_done: true } : {}),
	});
}
