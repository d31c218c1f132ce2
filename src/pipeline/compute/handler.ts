/**
 * compute: one strip, a window of rows x columns. Reads the window of every input, runs the
 * job's compiled formula in the WebAssembly evaluator, writes the window's compressed output tiles, its 2 x 2 average
 * (the source of the overviews) and its partial statistics, and counts completion
 * idempotently; the delivery that completes the last strip asks for store.
 */
import type { TypedArray } from "geotiff";
import { z } from "zod";
import { completeStrip, getStrip } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import type { CompiledFormula } from "../../indices/formula";
import { inputReadFailure } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import { type PixelWindow, readWindow } from "../../raster/read";
import { encodeTiles, halve } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import { kernels } from "../../wasm/index";
import { jobMessage } from "../message";
import { fileOf, type PlannedInput } from "../plan";
import { percentileHistogram, type StripOutput } from "../publish/statistics";
import { sendToStage } from "../send";
import { done, failed, type StageHandler } from "../stage";
import { computeProgress } from "../stages";

export const computeMessage = jobMessage.extend({ strip_index: z.number().int().min(0) });
export type ComputeMessage = z.infer<typeof computeMessage>;

/** Decodes each file once for all of its bands this job uses. */
async function readInputs(
	env: Env,
	allowedHosts: readonly string[] | null,
	inputs: readonly PlannedInput[],
	window: PixelWindow,
): Promise<Map<string, TypedArray>> {
	const byFile = Map.groupBy(inputs, fileOf);
	const pixels = new Map<string, TypedArray>();
	for (const group of byFile.values()) {
		const [first] = group;
		if (!first) continue;
		const bands = [...new Set(group.map((input) => input.band))];
		let decoded: TypedArray[];
		try {
			const { image } = await openRasterFile(env, {
				objectKey: first.object_key,
				href: first.href,
				bytes: first.bytes,
				allowedHosts,
			});
			decoded = await readWindow(image, bands, window);
		} catch (error) {
			throw inputReadFailure(
				{ name: first.name, uploadId: first.upload_id, href: first.href },
				error,
				`decoding rows ${window.rowStart}-${window.rowEnd}, columns ${window.colStart}-${window.colEnd}`,
			);
		}
		for (const input of group) {
			const data = decoded[bands.indexOf(input.band)];
			if (data) pixels.set(input.name, data);
		}
	}
	return pixels;
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
			let pixels: Map<string, TypedArray>;
			try {
				const allowedHosts = job.request.remote?.allowed_hosts ?? null;
				pixels = await readInputs(env, allowedHosts, plan.inputs, window);
			} catch (error) {
				if (error instanceof ApiError) return failed(error);
				throw error;
			}
			const inputs = formula.inputs.map((name) => {
				const input = plan.inputs.find((candidate) => candidate.name === name);
				const requested = job.request.inputs[name];
				const data = pixels.get(name);
				if (!input || !requested || !data) throw new Error(`job ${job.id}: input ${name} was not read`);
				return { data, nodata: input.nodata, scale: requested.scale, offset: requested.offset };
			});
			const values = kernels.evaluate(formula.program, inputs);
			const output = await writeStripOutput(env, job.id, message.strip_index, window, values, formula);
			const completion = await completeStrip(env.DB, job.id, message.strip_index, output, computeProgress);
			return finish(env, message, completion.remaining, completion.total, window);
		}
		const completion = await completeStrip(env.DB, job.id, message.strip_index, null, computeProgress);
		return finish(env, message, completion.remaining, completion.total, window, true);
	},
};

/**
 * Stores the window's output tiles (one object, row-major) and its 2 x 2 average, and returns
 * what store and publish need from D1: the tiles' byte counts and the partial statistics, with
 * the fine histogram that percentiles come from.
 */
async function writeStripOutput(
	env: Env,
	jobId: string,
	stripIndex: number,
	window: PixelWindow,
	values: Float32Array,
	formula: CompiledFormula,
): Promise<StripOutput> {
	const raster = { values, width: window.colEnd - window.colStart, height: window.rowEnd - window.rowStart };
	const tiles = await encodeTiles(raster);
	await env.BUCKET.put(objectKeys.stripTiles(jobId, stripIndex), new Blob(tiles));
	await env.BUCKET.put(objectKeys.stripHalf(jobId, stripIndex), halve(raster).values);
	const stats = kernels.stripStats(values, formula.histogram);
	const fine = kernels.stripStats(values, percentileHistogram(formula.histogram));
	return { ...stats, percentile_counts: fine.histogram_counts, tile_bytes: tiles.map((tile) => tile.byteLength) };
}

/**
 * Whichever delivery sees no strip left sends store, including a redelivery whose first try
 * died before sending: store is idempotent, a lost store message is not recoverable.
 */
async function finish(
	env: Env,
	message: ComputeMessage,
	remaining: number,
	total: number,
	window: PixelWindow,
	alreadyDone = false,
) {
	if (remaining === 0) await sendToStage(env, "store", { job_id: message.job_id, trace_id: message.trace_id });
	return done({
		rows: [window.rowStart, window.rowEnd],
		columns: [window.colStart, window.colEnd],
		remaining,
		total,
		...(alreadyDone ? { already_done: true } : {}),
	});
}
