/**
 * histogram: the second pass, over one window's stored output tiles, for a histogram whose
 * edges span the job's own values. Those edges are known only once every window is computed,
 * and counts exact at any edges need every value again; compute fans this out like itself once
 * its last window is done, and the delivery that bins the last window asks for store. A job
 * whose request fixed the edges was binned in compute and skips this stage.
 */
import { completeStripHistogram, getStrip, listStripStats } from "../../db/windows";
import { COG_TILE_SIZE } from "../../raster/cog-writer";
import { objectKeys } from "../../storage/keys";
import { workerBlockDecoder } from "../../wasm/codecs";
import { kernels } from "../../wasm/index";
import type { HistogramCounts, HistogramSpec } from "../../wasm/kernels";
import { dataHistogram, emptyHistogram, mergedExtremes, type StripOutput } from "../publish/statistics";
import { sendToStage } from "../send";
import { done, type StageHandler } from "../stage";
import { windowProgress } from "../stages";
import { continueWindows, type WindowMessage, windowMessage } from "../windows";

const TILE_PIXELS = COG_TILE_SIZE * COG_TILE_SIZE;

export const histogramStage: StageHandler<WindowMessage> = {
	message: windowMessage,
	async handle(message, { env, job }) {
		const { plan } = job;
		const index = message.strip_index;
		const strip = await getStrip(env.DB, job.id, index);
		if (!plan || !strip || !plan.strips[index]) throw new Error(`job ${job.id}: strip ${index} is not planned`);
		const progress = windowProgress("histogram");
		let counts: HistogramCounts | null = null;
		if (!strip.binned) {
			const partials = (await listStripStats<StripOutput>(env.DB, job.id)).map(({ index: at, stats }) => {
				if (!stats) throw new Error(`job ${job.id}: strip ${at} has no statistics`);
				return { at, stats };
			});
			const own = partials.find(({ at }) => at === index)?.stats;
			if (!own) throw new Error(`job ${job.id}: strip ${index} has no statistics`);
			const spec = dataHistogram(job.request, mergedExtremes(partials.map(({ stats }) => stats)));
			counts = own.count === 0 ? emptyHistogram(spec) : await binStoredTiles(env, job.id, index, own.tile_bytes, spec);
		}
		const completion = await completeStripHistogram(env.DB, job.id, index, counts, progress);
		await continueWindows(env, "histogram", plan, message, completion, {
			alreadyDone: strip.binned,
			isDone: async (next) => (await getStrip(env.DB, job.id, next))?.binned ?? false,
		});
		if (completion.remaining === 0) {
			await sendToStage(env, "store", { job_id: message.job_id, trace_id: message.trace_id });
		}
		return done({
			remaining: completion.remaining,
			total: completion.total,
			...(strip.binned ? { already_done: true } : {}),
		});
	},
};

/**
 * Decodes each of the window's stored tiles (zlib, in the block decoder's Wasm inflate, then the
 * floating-point predictor) and bins its values. One arena serves every tile: the loop never
 * awaits, so no other task can make one.
 */
async function binStoredTiles(
	env: Env,
	jobId: string,
	index: number,
	tileBytes: readonly number[],
	spec: HistogramSpec,
): Promise<HistogramCounts> {
	const object = await env.BUCKET.get(objectKeys.stripTiles(jobId, index));
	if (!object) throw new Error(`job ${jobId}: the tiles of strip ${index} are missing`);
	const stored = new Uint8Array(await object.arrayBuffer());
	const histogram = emptyHistogram(spec);
	const arena = kernels.arena({ pixels: TILE_PIXELS, inputs: [{ type: "float32" }] });
	const [input] = arena.inputs;
	if (!input) throw new Error("the tile arena has no input");
	const inputBytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
	let offset = 0;
	for (const length of tileBytes) {
		const tile = workerBlockDecoder().inflate(stored.subarray(offset, offset + length), inputBytes.byteLength);
		if (tile.byteLength !== inputBytes.byteLength) {
			throw new Error(`job ${jobId}: a tile of strip ${index} inflates to ${tile.byteLength} bytes`);
		}
		inputBytes.set(tile);
		arena.undoFloatingPointPredictor(COG_TILE_SIZE, COG_TILE_SIZE);
		arena.addToHistogram(spec, histogram);
		offset += length;
	}
	if (offset !== stored.byteLength) throw new Error(`job ${jobId}: strip ${index}'s tiles are not ${offset} bytes`);
	return histogram;
}
