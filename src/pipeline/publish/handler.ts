/**
 * publish: writes stats.json from the strips' partial statistics and preview.png from
 * result.tif's overview, records the artifacts and marks the job succeeded in one
 * transaction, then drops the intermediate strips and overviews. A job that ended meanwhile
 * keeps its end, and what publish wrote is removed.
 */
import { completeJob, type JobRecord } from "../../db/jobs";
import { listStripStats } from "../../db/windows";
import type { CompiledFormula } from "../../indices/formula";
import { colormapOf } from "../../indices/registry";
import { PREVIEW_ARTIFACT, renderPreview } from "../../preview/render";
import { objectKeys } from "../../storage/keys";
import { deleteObjectsUnder } from "../../storage/objects";
import type { HistogramCounts } from "../../wasm/kernels";
import { removeJobObjects } from "../failure";
import { jobMessage } from "../message";
import { done, type StageHandler } from "../stage";
import { RESULT_ARTIFACT } from "../store/handler";
import { QuantileSketch, sketchPairs } from "./quantile-sketch";
import {
	addHistogram,
	dataHistogram,
	emptyHistogram,
	fixedHistogram,
	type JobStatistics,
	mergedExtremes,
	mergeStripStats,
	resultWarnings,
	type StripOutput,
} from "./statistics";

export const STATS_ARTIFACT = "stats.json";

/** Sketches fetched at once. */
const SKETCH_READS_IN_FLIGHT = 8;

/**
 * stats.json from the windows' partials in D1, their histograms (compute's over fixed edges, or
 * the histogram stage's over the job's own) and their quantile sketches in R2.
 */
async function jobStatistics(env: Env, job: JobRecord, formula: CompiledFormula): Promise<JobStatistics> {
	const strips = await listStripStats<StripOutput, HistogramCounts>(env.DB, job.id);
	const partials = strips.map((strip) => {
		if (!strip.stats) throw new Error(`job ${job.id}: strip ${strip.index} has no statistics`);
		return strip.stats;
	});
	const fixed = fixedHistogram(job.request);
	const spec = fixed ?? dataHistogram(job.request, mergedExtremes(partials));
	const counts = emptyHistogram(spec);
	for (const strip of strips) {
		const binned = fixed ? strip.stats?.histogram : strip.histogram;
		if (!binned) throw new Error(`job ${job.id}: strip ${strip.index} has no histogram`);
		addHistogram(counts, binned);
	}
	const sketch = new QuantileSketch();
	for (let start = 0; start < strips.length; start += SKETCH_READS_IN_FLIGHT) {
		const batch = strips.slice(start, start + SKETCH_READS_IN_FLIGHT);
		const sketches = await Promise.all(
			batch.map(async ({ index }) => {
				const object = await env.BUCKET.get(objectKeys.stripSketch(job.id, index));
				if (!object) throw new Error(`job ${job.id}: strip ${index} has no quantile sketch`);
				return sketchPairs(await object.arrayBuffer());
			}),
		);
		for (const pairs of sketches) sketch.add(pairs);
	}
	return mergeStripStats(partials, {
		formula,
		inputs: job.request.inputs,
		histogram: { spec, source: fixed ? "request" : "data", counts },
		sketch,
		warnings: resultWarnings(formula, job.request.inputs, partials),
	});
}

export const publishStage: StageHandler = {
	message: jobMessage,
	async handle(_message, { env, job, traceId }) {
		const { formula, plan } = job;
		if (!formula || !plan) throw new Error(`job ${job.id} has no compiled formula or no plan`);
		const resultKey = objectKeys.artifact(job.id, RESULT_ARTIFACT);
		const result = await env.BUCKET.head(resultKey);
		if (!result) throw new Error(`job ${job.id}: ${RESULT_ARTIFACT} is not stored yet`);
		const statistics = await jobStatistics(env, job, formula);
		const statsKey = objectKeys.artifact(job.id, STATS_ARTIFACT);
		const stats = await env.BUCKET.put(statsKey, JSON.stringify(statistics, null, 2), {
			httpMetadata: { contentType: "application/json" },
		});
		const png = await renderPreview(env, { objectKey: resultKey, bytes: result.size }, plan, {
			colormap: colormapOf(formula.index),
			rescale: [formula.previewRange.first, formula.previewRange.last],
		});
		const previewKey = objectKeys.artifact(job.id, PREVIEW_ARTIFACT);
		await env.BUCKET.put(previewKey, png, { httpMetadata: { contentType: "image/png" } });
		const succeeded = await completeJob(
			env.DB,
			job.id,
			[
				{ name: PREVIEW_ARTIFACT, mediaType: "image/png", bytes: png.byteLength, objectKey: previewKey },
				{
					name: RESULT_ARTIFACT,
					mediaType: "image/tiff; application=geotiff",
					bytes: result.size,
					objectKey: resultKey,
				},
				{ name: STATS_ARTIFACT, mediaType: "application/json", bytes: stats.size, objectKey: statsKey },
			],
			statistics.warnings,
		);
		if (!succeeded) {
			// A cancel, failure or sweep ended the job after the dispatcher let this delivery in,
			// and its cleanup may have run before the artifacts above were written: remove them
			// now rather than leave them to the sweeper's late pass.
			await removeJobObjects(env, job.id, traceId);
			return done({ ended_before_publish: true });
		}
		// After success a redelivered store or publish is skipped, so nothing needs the work objects.
		await deleteObjectsUnder(env.BUCKET, objectKeys.workPrefix(job.id));
		return done({ count: statistics.count, nodata_count: statistics.nodata_count });
	},
};
