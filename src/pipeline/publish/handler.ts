/**
 * publish: the job's process writes its artifacts (from the windows' partials), the job's STAC
 * Item (item.json) is written over them, then the artifacts are recorded and the job marked
 * succeeded in one transaction, and the intermediate objects dropped. A job canceled, failed or
 * swept meanwhile keeps its end, and what publish wrote is removed; one that another delivery of
 * the same publish recorded meanwhile keeps its artifacts.
 *
 * A process with publish steps (Process.publishSteps) has them run first, a delivery each: the
 * message compute sends runs the first, and each step's delivery sends `{step: i}` for the next;
 * the delivery after the last step publishes as above. A step delivered twice runs twice and
 * writes the same objects; so may every step after it, up to the one that records the job.
 */

import { z } from "zod";
import type { ArtifactRecord } from "../../db/artifacts";
import { completeJob, getJob, isTerminal, type JobRecord } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { buildItem, ITEM_ARTIFACT, ITEM_MEDIA_TYPE, type StoredFile } from "../../stac/item";
import { objectKeys } from "../../storage/keys";
import { deleteObjectsUnder, objectSha256 } from "../../storage/objects";
import { API_VERSION } from "../../version";
import { sendOwedWebhooks } from "../../webhooks/outbox";
import { removeJobObjects } from "../failure";
import { jobMessage } from "../message";
import { jobPlan } from "../plan";
import { sendToStage } from "../send";
import { done, failed, type PublishedResult, type StageContext, type StageHandler, type StageOutcome } from "../stage";

/**
 * Writes item.json for the published result and returns its artifact. Each asset's checksum is
 * taken from the stored object, streamed, whichever stage wrote it (result.tif is uploaded in
 * parts by store). Null when an asset is no longer stored: what ended the job meanwhile removed it.
 */
async function publishItem(env: Env, job: JobRecord, published: PublishedResult): Promise<ArtifactRecord | null> {
	const files: Record<string, StoredFile> = {};
	for (const name of Object.keys(published.item.assets)) {
		const artifact = published.artifacts.find((candidate) => candidate.name === name);
		if (!artifact) throw new Error(`job ${job.id}: the Item's asset ${name} is not among its artifacts`);
		const file = await objectSha256(env.BUCKET, artifact.objectKey);
		if (!file) return null;
		files[name] = file;
	}
	const item = buildItem({
		jobId: job.id,
		baseUrl: job.request.base_url ?? "",
		result: published.item,
		files,
		inputs: job.request.inputs,
		softwareVersion: API_VERSION,
		processedAt: new Date().toISOString(),
	});
	const objectKey = objectKeys.artifact(job.id, ITEM_ARTIFACT);
	const body = JSON.stringify(item, null, 2);
	const stored = await env.BUCKET.put(objectKey, body, { httpMetadata: { contentType: ITEM_MEDIA_TYPE } });
	return { name: ITEM_ARTIFACT, mediaType: ITEM_MEDIA_TYPE, bytes: stored.size, objectKey };
}

export const publishMessage = jobMessage.extend({
	/** The process's publish step this delivery runs; absent, the first (or the only publish there is). */
	step: z.number().int().min(1).optional(),
});
export type PublishMessage = z.infer<typeof publishMessage>;

export const publishStage: StageHandler<PublishMessage> = {
	message: publishMessage,
	async handle(message, context) {
		const { env, job, traceId, process } = context;
		const plan = jobPlan(job);
		if (!plan) throw new Error(`job ${job.id} has no plan`);
		const planned = await processWork(context, async () => (await process.publishSteps?.(context, plan)) ?? []);
		if (!planned.ok) return planned.outcome;
		const steps = planned.value;
		const step = message.step ?? 0;
		// A step past the last (a deploy gave the job fewer steps while it was in flight) publishes.
		const current = steps[step];
		if (current) {
			const ran = await processWork(context, () => current.run(context, plan));
			if (!ran.ok) return ran.outcome;
			const ended = await endedMeanwhile(context);
			if (ended) return ended;
			await sendToStage(env, "publish", { job_id: job.id, trace_id: traceId, step: step + 1 });
			return done({ made: current.name, next: steps[step + 1]?.name ?? "the job's record" });
		}
		const published = await processWork(context, () => process.publish(context, plan));
		return published.ok ? recordPublished(context, published.value) : published.outcome;
	},
};

/**
 * What the process's work gave, or how the delivery ends otherwise: what {@link endedMeanwhile}
 * says when the work threw and the job has ended (its cleanup took what the work read, the job's
 * copy of its fields say); else the job's failure for an ApiError (a thing it read is gone); else
 * the error is thrown on, and the delivery retried.
 */
async function processWork<T>(
	context: StageContext,
	run: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; outcome: StageOutcome }> {
	try {
		return { ok: true, value: await run() };
	} catch (error) {
		const ended = await endedMeanwhile(context);
		if (ended) return { ok: false, outcome: ended };
		if (error instanceof ApiError) return { ok: false, outcome: failed(error) };
		throw error;
	}
}

/**
 * How the delivery ends when the job ended after the dispatcher let it in, or null while the job
 * is live. A cancel, failure or sweep may have run its cleanup before this delivery wrote: what it
 * wrote is removed now rather than left to the sweeper's late pass. A job that succeeded meanwhile
 * was recorded by another delivery of this same publish (a redelivered message), whose objects
 * these are.
 */
async function endedMeanwhile({ env, job, traceId }: StageContext): Promise<StageOutcome | null> {
	const current = await getJob(env.DB, job.id);
	if (current && !isTerminal(current.status)) return null;
	if (current?.status === "succeeded") {
		// What this delivery wrote under the work prefix after the other one dropped it.
		await deleteObjectsUnder(env.BUCKET, objectKeys.workPrefix(job.id));
		return done({ published_by_another_delivery: true });
	}
	await removeJobObjects(env, job.id, traceId);
	return done({ ended_before_publish: true });
}

/** Writes item.json over the published artifacts, records them and marks the job succeeded. */
async function recordPublished(context: StageContext, published: PublishedResult): Promise<StageOutcome> {
	const { env, job, traceId } = context;
	const item = await publishItem(env, job, published);
	const succeeded =
		item !== null && (await completeJob(env.DB, job.id, [...published.artifacts, item], published.warnings));
	if (!succeeded) {
		const ended = await endedMeanwhile(context);
		if (ended) return ended;
		throw new Error(`job ${job.id}: ${item ? "its record was not completed" : "an asset of its Item is not stored"}`);
	}
	await sendOwedWebhooks(env, job.id, traceId);
	// After success a redelivered store or publish is skipped, so nothing needs the work objects.
	await deleteObjectsUnder(env.BUCKET, objectKeys.workPrefix(job.id));
	return done(published.detail);
}
