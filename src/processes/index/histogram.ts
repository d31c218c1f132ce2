/**
 * The index process's second pass: one window's values binned over the histogram's edges, which
 * span the job's own values and so are known only once every window is computed. Counts exact
 * at any edges need every value again: compute stored the window's values raw, so they are
 * binned as read, then encoded into the window's output tiles (as compute encodes them with
 * fixed edges), which store reads. Values stay until the job's work objects are dropped, so a
 * redelivered window bins and encodes them again to the same counts and bytes.
 */
import type { StripSpan } from "../../pipeline/plan";
import type { StageContext } from "../../pipeline/stage";
import { COG_TILE_SIZE } from "../../raster/cog-writer";
import { type OutputOptions, outputTypes, quantize, unscale } from "../../raster/output-type";
import { decodeIntegerTile, encodeTiles, type FloatRaster } from "../../raster/tiles";
import { objectKeys } from "../../storage/keys";
import { workerBlockDecoder } from "../../wasm/codecs";
import { kernels, tileEncoder } from "../../wasm/index";
import type { HistogramCounts, HistogramSpec } from "../../wasm/kernels";
import { storeTiles } from "./compute";
import { dataHistogram, emptyHistogram, mergedExtremes, type StripOutput, type WindowBins } from "./statistics";

const TILE_PIXELS = COG_TILE_SIZE * COG_TILE_SIZE;

/** The window's counts over the edges the windows' merged extremes give, and its tiles' byte counts. */
export async function binIndexWindow(
	{ env, job }: StageContext,
	window: StripSpan,
	partials: readonly { index: number; partial: unknown }[],
): Promise<WindowBins> {
	const stats = partials.map(({ index: at, partial }) => {
		if (!partial) throw new Error(`job ${job.id}: strip ${at} has no statistics`);
		return { at, stats: partial as StripOutput };
	});
	const own = stats.find(({ at }) => at === window.index)?.stats;
	if (!own) throw new Error(`job ${job.id}: strip ${window.index} has no statistics`);
	const spec = dataHistogram(job.request, mergedExtremes(stats.map(({ stats: partial }) => partial)));
	// A window computed before compute stored values raw (a job in flight across that deploy) has its tiles.
	if (own.tile_bytes) {
		if (own.count === 0) return emptyHistogram(spec);
		return binStoredTiles(env, job.id, window.index, own.tile_bytes, spec, job.request.output);
	}
	const raster = await storedValues(env, job.id, window);
	const histogram = own.count === 0 ? emptyHistogram(spec) : binValues(raster.values, spec, job.request.output);
	const tiles = encodeTiles(raster, tileEncoder, job.request.output);
	return { ...histogram, tile_bytes: await storeTiles(env, job.id, window.index, tiles) };
}

/** The window's values as compute stored them. */
async function storedValues(env: Env, jobId: string, window: StripSpan): Promise<FloatRaster> {
	const object = await env.BUCKET.get(objectKeys.stripValues(jobId, window.index));
	if (!object) throw new Error(`job ${jobId}: the values of strip ${window.index} are missing`);
	const width = window.colEnd - window.colStart;
	const height = window.rowEnd - window.rowStart;
	const values = new Float32Array(await object.arrayBuffer());
	if (values.length !== width * height) {
		throw new Error(`job ${jobId}: strip ${window.index} holds ${values.length} values, not ${width} x ${height}`);
	}
	return { values, width, height };
}

/**
 * Counts `values` as result.tif stores them: float32 as they are, an integer type's quantised
 * and unscaled as a reader of its tiles gets them (each within scale / 2 of the value computed).
 */
function binValues(values: Float32Array, spec: HistogramSpec, output: OutputOptions | undefined): HistogramCounts {
	const stored =
		output && outputTypes[output.data_type].predictor === 2
			? unscale(quantize(values, output), { ...output, nodata: outputTypes[output.data_type].nodata })
			: values;
	const histogram = emptyHistogram(spec);
	// A tile's arena binned a tile's worth at a time: a new arena is filled whole, and a window's would be eight times the bytes.
	const arena = kernels.arena({ pixels: TILE_PIXELS, inputs: [] });
	for (let start = 0; start < stored.length; start += TILE_PIXELS) {
		const part = stored.subarray(start, start + TILE_PIXELS);
		arena.output.set(part);
		// NaN is not counted: what the last part leaves of the arena counts nothing.
		arena.output.fill(Number.NaN, part.length);
		arena.addToHistogram(spec, histogram);
	}
	return histogram;
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
