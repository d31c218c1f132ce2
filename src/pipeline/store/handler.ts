/**
 * store: assembles result.tif from the compute strips. The header is computed up front, then
 * header and strips stream into one R2 object: the whole file is never in memory. publish
 * records the artifact once the job is done.
 */
import { float32StripHeader } from "../../raster/float32-writer";
import { objectKeys } from "../../storage/keys";
import { jobMessage } from "../message";
import { sendToStage } from "../send";
import { done, type StageHandler } from "../stage";

export const RESULT_ARTIFACT = "result.tif";

export const storeStage: StageHandler = {
	message: jobMessage,
	async handle(message, { env, job }) {
		const { plan, formula } = job;
		if (!plan || !formula) throw new Error(`job ${job.id} has no plan`);
		const { header, stripByteCounts, totalBytes } = float32StripHeader({
			width: plan.width,
			height: plan.height,
			rowsPerStrip: plan.rows_per_strip,
			geo: plan.geo,
			description: formula.index ?? formula.expression,
		});
		if (stripByteCounts.length !== plan.strips.length) {
			throw new Error(`job ${job.id}: the TIFF has ${stripByteCounts.length} strips, the plan ${plan.strips.length}`);
		}

		const key = objectKeys.artifact(job.id, RESULT_ARTIFACT);
		const { readable, writable } = new FixedLengthStream(totalBytes);
		const upload = env.BUCKET.put(key, readable, { httpMetadata: { contentType: "image/tiff" } });
		const pump = (async () => {
			const writer = writable.getWriter();
			await writer.write(header);
			writer.releaseLock();
			for (const [position, strip] of plan.strips.entries()) {
				const object = await env.BUCKET.get(objectKeys.strip(job.id, strip.index));
				if (!object) throw new Error(`job ${job.id}: strip ${strip.index} is missing`);
				if (object.size !== stripByteCounts[position]) {
					await object.body.cancel();
					throw new Error(
						`job ${job.id}: strip ${strip.index} has ${object.size} bytes, expected ${stripByteCounts[position]}`,
					);
				}
				await object.body.pipeTo(writable, { preventClose: true });
			}
			await writable.close();
		})();
		// A failed pump must also fail the put, or the put would wait for bytes forever.
		const pumped = pump.catch(async (error: unknown) => {
			await writable.abort(error).catch(() => undefined);
			throw error;
		});
		const [stored] = await Promise.all([upload, pumped]);
		await sendToStage(env, "publish", { job_id: job.id, trace_id: message.trace_id });
		return done({ bytes: stored.size, strips: plan.strips.length });
	},
};
