/**
 * ingest: resolves a job's inputs to stored uploads or to remote COGs it can read by ranges
 * (STAC items and searches first made concrete inputs and dates, src/stac/, and the request
 * saved so), records them with their sizes (and remote ones' ETags), then starts the job's
 * next stage.
 */
import { type JobInputRecord, saveJobInputs } from "../../db/job-inputs";
import { saveResolvedRequest } from "../../db/jobs";
import { findUploads } from "../../db/uploads";
import { ApiError } from "../../errors/api-error";
import { inputReadFailure } from "../../raster/input-errors";
import { probeRemote, type RemoteVersion, remoteAccess, remoteHref } from "../../raster/remote";
import { resolveStacSources } from "../../stac/resolve";
import { advance } from "../advance";
import { jobMessage } from "../message";
import { done, failed, type StageHandler } from "../stage";

export const ingestStage: StageHandler = {
	message: jobMessage,
	async handle(_message, given) {
		let context = given;
		if (given.job.request.stac && !given.job.request.stac.resolved) {
			const request = await resolveStacSources(given.env, given.job);
			if (request instanceof ApiError) return failed(request);
			// A job ended meanwhile keeps its request; the dispatcher finds it ended next time.
			await saveResolvedRequest(given.env.DB, given.job.id, request);
			context = { ...given, job: { ...given.job, request } };
		}
		const { env, job } = context;
		const requested = Object.entries(job.request.inputs);
		const uploadIds = requested.flatMap(([, input]) => (input.upload_id === undefined ? [] : [input.upload_id]));
		// A job from before tenancy owns no uploads, so its upload inputs are not found.
		const uploads = await findUploads(env.DB, job.tenantId ?? "", [...new Set(uploadIds)]);
		const inputs: JobInputRecord[] = [];
		for (const [name, input] of requested) {
			if (input.href !== undefined) {
				let version: RemoteVersion;
				try {
					const access = remoteAccess(env, job.request.remote?.allowed_hosts);
					version = await probeRemote(remoteHref.parse(input.href), access);
				} catch (error) {
					return failed(inputReadFailure({ name, uploadId: null, href: input.href }, error, "reading the file"));
				}
				inputs.push({ name, uploadId: null, href: input.href, band: input.band, objectKey: null, ...version });
				continue;
			}
			const upload = uploads.get(input.upload_id);
			const stored = upload ? await env.BUCKET.head(upload.objectKey) : null;
			if (!upload || !stored) {
				return failed(
					new ApiError("input-unavailable", `input '${name}': upload ${input.upload_id} is no longer stored`, {
						errors: [{ path: `inputs.${name}.upload_id`, message: "upload not found in storage" }],
					}),
				);
			}
			inputs.push({
				name,
				uploadId: upload.id,
				href: null,
				band: input.band,
				objectKey: upload.objectKey,
				bytes: stored.size,
				etag: null,
			});
		}
		await saveJobInputs(env.DB, job.id, inputs);
		return done({ inputs: inputs.length, next: await advance(context, "ingest", null) });
	},
};
