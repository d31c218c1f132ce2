/**
 * publish: writes stats.json from the strips' partial statistics, records it, marks the job
 * succeeded, and drops the intermediate strips.
 */
import { listArtifacts, listStripStats, saveArtifact, succeedJob } from "../../db/queries";
import { findIndex } from "../../indices/registry";
import { objectKeys } from "../../storage/keys";
import type { StripStats } from "../../wasm/kernels";
import { jobMessage } from "../message";
import { done, type StageHandler } from "../stage";
import { RESULT_ARTIFACT } from "../store/handler";
import { mergeStripStats } from "./statistics";

export const STATS_ARTIFACT = "stats.json";

export const publishStage: StageHandler = {
	message: jobMessage,
	async handle(_message, { env, job }) {
		const index = findIndex(job.indexId);
		if (!index) throw new Error(`job ${job.id}: index ${job.indexId} is not registered`);
		const artifacts = await listArtifacts(env.DB, job.id);
		if (!artifacts.some((artifact) => artifact.name === RESULT_ARTIFACT)) {
			throw new Error(`job ${job.id}: ${RESULT_ARTIFACT} is not stored yet`);
		}
		const strips = await listStripStats<StripStats>(env.DB, job.id);
		const partials = strips.map((strip) => {
			if (!strip.stats) throw new Error(`job ${job.id}: strip ${strip.index} has no statistics`);
			return strip.stats;
		});
		const statistics = mergeStripStats(index.id, index.histogram, partials);
		const body = JSON.stringify(statistics, null, 2);
		const key = objectKeys.artifact(job.id, STATS_ARTIFACT);
		const stored = await env.BUCKET.put(key, body, { httpMetadata: { contentType: "application/json" } });
		await saveArtifact(env.DB, job.id, {
			name: STATS_ARTIFACT,
			mediaType: "application/json",
			bytes: stored.size,
			objectKey: key,
		});
		// Strips go before the job is marked succeeded: a redelivery after success is skipped,
		// so cleaning up afterwards could leak them; stats live in D1 and survive the delete.
		await deleteStrips(env.BUCKET, job.id);
		await succeedJob(env.DB, job.id);
		return done({ count: statistics.count, nodata_count: statistics.nodata_count });
	},
};

/** Strips are only needed to build result.tif; R2 deletes at most 1000 keys per call. */
async function deleteStrips(bucket: R2Bucket, jobId: string): Promise<void> {
	let cursor: string | undefined;
	do {
		const listing = await bucket.list({ prefix: objectKeys.stripsPrefix(jobId), cursor, limit: 1000 });
		if (listing.objects.length > 0) await bucket.delete(listing.objects.map((object) => object.key));
		cursor = listing.truncated ? listing.cursor : undefined;
	} while (cursor);
}
