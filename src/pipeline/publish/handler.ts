/**
 * publish: writes stats.json from the strips' partial statistics, records both artifacts and
 * marks the job succeeded in one transaction, then drops the intermediate strips.
 */
import { completeJob, listStripStats } from "../../db/queries";
import { objectKeys } from "../../storage/keys";
import { deleteObjectsUnder } from "../../storage/objects";
import type { StripStats } from "../../wasm/kernels";
import { jobMessage } from "../message";
import { done, type StageHandler } from "../stage";
import { RESULT_ARTIFACT } from "../store/handler";
import { mergeStripStats } from "./statistics";

export const STATS_ARTIFACT = "stats.json";

export const publishStage: StageHandler = {
	message: jobMessage,
	async handle(_message, { env, job }) {
		const formula = job.formula;
		if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
		const resultKey = objectKeys.artifact(job.id, RESULT_ARTIFACT);
		const result = await env.BUCKET.head(resultKey);
		if (!result) throw new Error(`job ${job.id}: ${RESULT_ARTIFACT} is not stored yet`);
		const strips = await listStripStats<StripStats>(env.DB, job.id);
		const partials = strips.map((strip) => {
			if (!strip.stats) throw new Error(`job ${job.id}: strip ${strip.index} has no statistics`);
			return strip.stats;
		});
		const statistics = mergeStripStats(formula, job.request.inputs, partials);
		const statsKey = objectKeys.artifact(job.id, STATS_ARTIFACT);
		const stats = await env.BUCKET.put(statsKey, JSON.stringify(statistics, null, 2), {
			httpMetadata: { contentType: "application/json" },
		});
		await completeJob(env.DB, job.id, [
			{ name: RESULT_ARTIFACT, mediaType: "image/tiff; application=geotiff", bytes: result.size, objectKey: resultKey },
			{ name: STATS_ARTIFACT, mediaType: "application/json", bytes: stats.size, objectKey: statsKey },
		]);
		// After success a redelivered store or publish is skipped, so nothing needs the strips.
		await deleteObjectsUnder(env.BUCKET, objectKeys.stripsPrefix(job.id));
		return done({ count: statistics.count, nodata_count: statistics.nodata_count });
	},
};
