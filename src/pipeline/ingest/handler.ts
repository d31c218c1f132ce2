/** ingest: resolves a job's inputs to stored uploads and records them, then asks for validation. */
import { findUploads, saveJobInputs } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import { jobMessage } from "../message";
import { sendToStage } from "../send";
import { done, failed, type StageHandler } from "../stage";

export const ingestStage: StageHandler = {
	message: jobMessage,
	async handle(message, { env, job }) {
		const requested = Object.entries(job.request.inputs);
		const uploads = await findUploads(env.DB, [...new Set(requested.map(([, input]) => input.upload_id))]);
		const inputs = [];
		for (const [name, input] of requested) {
			const upload = uploads.get(input.upload_id);
			const stored = upload ? await env.BUCKET.head(upload.objectKey) : null;
			if (!upload || !stored) {
				return failed(
					new ApiError("input-unavailable", `input '${name}': upload ${input.upload_id} is no longer stored`, {
						errors: [{ path: `inputs.${name}.upload_id`, message: "upload not found in storage" }],
					}),
				);
			}
			inputs.push({ name, uploadId: upload.id, band: input.band, objectKey: upload.objectKey, bytes: stored.size });
		}
		await saveJobInputs(env.DB, job.id, inputs);
		await sendToStage(env, "validate", { job_id: job.id, trace_id: message.trace_id });
		return done({ inputs: inputs.length });
	},
};
