/**
 * The index process's second pass: one window's values binned over the histogram's edges, which
 * span the job's own values and so are known only once every window is computed. Counts exact
 * at any edges need every value again: the window's stored output tiles are decoded and binned.
 */
import type { StageContext } from "../../pipeline/stage";
import { COG_TILE_SIZE } from "../../raster/cog-writer";
import { type OutputOptions, outputTypes } from "../../raster/output-type";
import { decodeIntegerTile } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import { workerBlockDecoder } from "../../wasm/codecs";
import { kernels } from "../../wasm/index";
import type { HistogramCounts, HistogramSpec } from "../../wasm/kernels";
import { dataHistogram, emptyHistogram, mergedExtremes, type StripOutput } from "./statistics";

const TILE_PIXELS = COG_TILE_SIZE * COG_TILE_SIZE;

/** The window's counts over the edges the windows' merged extremes give. */
export async function binIndexWindow(
	{ env, job }: StageContext,
	index: number,
	partials: readonly { index: number; partial: unknown }[],
): Promise<HistogramCounts> {
	const stats = partials.map(({ index: at, partial }) => {
		if (!partial) throw new Error(`job ${job.id}: strip ${at} has no statistics`);
		return { at, stats: partial as StripOutput };
	});
	const own = stats.find(({ at }) => at === index)?.stats;
	if (!own) throw new Error(`job ${job.id}: strip ${index} has no statistics`);
	const spec = dataHistogram(job.request, mergedExtremes(stats.map(({ stats: partial }) => partial)));
	if (own.count === 0) return emptyHistogram(spec);
	return binStoredTiles(env, job.id, index, own.tile_bytes, spec, job.request.output);
}

/**
 * Decodes each of the window's stored tiles (zlib, in the block decoder's Wasm inflate, then the
 * floating-point predictor, or for an integer output the horizontal predictor and the output's
 * scale and offset) and bins its values. One arena serves every tile: the loop never awaits, so
 * no other task can make one.
 */
async function binStoredTiles(
	env: Env,
	jobId: string,
	index: number,
	tileBytes: readonly number[],
	spec: HistogramSpec,
	output: OutputOptions | undefined,
): Promise<HistogramCounts> {
	const object = await env.BUCKET.get(objectKeys.stripTiles(jobId, index));
	if (!object) throw new Error(`job ${jobId}: the tiles of strip ${index} are missing`);
	const stored = new Uint8Array(await object.arrayBuffer());
	const histogram = emptyHistogram(spec);
	const arena = kernels.arena({ pixels: TILE_PIXELS, inputs: [{ type: "float32" }] });
	const [input] = arena.inputs;
	if (!input) throw new Error("the tile arena has no input");
	const inputBytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
	const integer = output !== undefined && outputTypes[output.data_type].predictor === 2;
	let offset = 0;
	for (const length of tileBytes) {
		const stream = stored.subarray(offset, offset + length);
		if (integer) {
			decodeIntegerTile(stream, arena.output, workerBlockDecoder(), output);
		} else {
			const tile = workerBlockDecoder().inflate(stream, inputBytes.byteLength);
			if (tile.byteLength !== inputBytes.byteLength) {
				throw new Error(`job ${jobId}: a tile of strip ${index} inflates to ${tile.byteLength} bytes`);
			}
			inputBytes.set(tile);
			arena.undoFloatingPointPredictor(COG_TILE_SIZE, COG_TILE_SIZE);
		}
		arena.addToHistogram(spec, histogram);
		offset += length;
	}
	if (offset !== stored.byteLength) throw new Error(`job ${jobId}: strip ${index}'s tiles are not ${offset} bytes`);
	return histogram;
}
