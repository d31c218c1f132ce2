/**
 * The index process's publish: stats.json from the windows' partial statistics, preview.png
 * from result.tif's overview, and result.tif (which store wrote) as the job's artifacts.
 */
import type { ArtifactRecord } from "../../db/artifacts";
import type { JobRecord } from "../../db/jobs";
import { listStripStats } from "../../db/windows";
import { type CompiledFormula, jobFormula } from "../../indices/formula";
import { colormapOf } from "../../indices/registry";
import type { JobPlan } from "../../pipeline/plan";
import type { PublishedResult, StageContext } from "../../pipeline/stage";
import { RESULT_ARTIFACT } from "../../pipeline/store/result-upload";
import { PREVIEW_ARTIFACT, renderPreview } from "../../preview/render";
import { gridFootprint } from "../../raster/footprint";
import { epsgCodeOf, geotransformOf } from "../../raster/georeference";
import { FLOAT32_OUTPUT, outputTypes } from "../../raster/output-type";
import {
	bandStatistics,
	COG_MEDIA_TYPE,
	formulaExpression,
	formulaLineage,
	type ItemBand,
	type ResultItem,
	singleDateTime,
} from "../../stac/item";
import { objectKeys } from "../../storage/keys";
import type { HistogramCounts } from "../../wasm/kernels";
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

/** Writes stats.json and preview.png; result.tif is stored already. */
export async function publishIndex({ env, job }: StageContext, plan: JobPlan): Promise<PublishedResult> {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
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
	const artifacts: ArtifactRecord[] = [
		{ name: PREVIEW_ARTIFACT, mediaType: "image/png", bytes: png.byteLength, objectKey: previewKey },
		{ name: RESULT_ARTIFACT, mediaType: "image/tiff; application=geotiff", bytes: result.size, objectKey: resultKey },
		{ name: STATS_ARTIFACT, mediaType: "application/json", bytes: stats.size, objectKey: statsKey },
	];
	return {
		artifacts,
		warnings: statistics.warnings,
		detail: { count: statistics.count, nodata_count: statistics.nodata_count },
		item: resultItem(job, plan, formula, statistics),
	};
}

/** What the job's STAC Item says of result.tif, stats.json and preview.png, and of the formula. */
function resultItem(job: JobRecord, plan: JobPlan, formula: CompiledFormula, statistics: JobStatistics): ResultItem {
	const geotransform = geotransformOf(plan.geo);
	const output = job.request.output ?? FLOAT32_OUTPUT;
	const scaled = output.data_type !== "float32";
	const { nodata } = outputTypes[output.data_type];
	const band: ItemBand = {
		data_type: output.data_type,
		nodata: Number.isNaN(nodata) ? "nan" : nodata,
		statistics: bandStatistics(statistics),
		...(scaled ? { scale: output.scale, offset: output.offset } : {}),
	};
	const grid = { width: plan.width, height: plan.height, crs: plan.geo };
	return {
		footprint: geotransform ? gridFootprint({ ...grid, geotransform }) : null,
		time: singleDateTime(job),
		grid: { epsg: epsgCodeOf(plan.geo), width: plan.width, height: plan.height, geotransform },
		assets: {
			[RESULT_ARTIFACT]: { roles: ["data"], type: COG_MEDIA_TYPE, title: "The index, per pixel", bands: [band] },
			[PREVIEW_ARTIFACT]: { roles: ["overview"], type: "image/png", title: "Colour preview" },
			[STATS_ARTIFACT]: { roles: ["metadata"], type: "application/json", title: "Statistics and histogram" },
		},
		expression: formulaExpression(formula, job.request.inputs),
		lineage: formulaLineage(formula, "evaluated per pixel on the inputs' grid"),
	};
}
