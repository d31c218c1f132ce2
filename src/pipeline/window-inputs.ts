/**
 * Reads one window of a job's inputs for a process's compute: each file decoded once for all
 * of its bands the job uses, remote reads held to the job's byte budget. A file that cannot be
 * read fails the job as an ApiError naming the input.
 */
import type { JobRecord } from "../db/jobs";
import { inputReadFailure } from "../raster/input-errors";
import { openRasterFile } from "../raster/inputs";
import { type DecodedWindow, type PixelWindow, readWindow } from "../raster/read";
import type { RemoteByteBudget } from "../raster/remote";
import { jobRemoteBudget } from "../raster/remote-budget";
import { fileOf, type PlannedInput } from "./plan";

/** Where an input's samples are: a decoded window of its file, and its band's position in it. */
export interface DecodedInput {
	window: DecodedWindow;
	position: number;
}

/** Decodes each file once for all of its bands this job uses. */
async function readInputs(
	env: Env,
	remote: { allowedHosts: readonly string[] | null; budget: RemoteByteBudget },
	inputs: readonly PlannedInput[],
	window: PixelWindow,
): Promise<Map<string, DecodedInput>> {
	const byFile = Map.groupBy(inputs, fileOf);
	const decodedInputs = new Map<string, DecodedInput>();
	for (const group of byFile.values()) {
		const [first] = group;
		if (!first) continue;
		const bands = [...new Set(group.map((input) => input.band))];
		let decoded: DecodedWindow;
		try {
			const { image } = await openRasterFile(env, {
				objectKey: first.object_key,
				href: first.href,
				bytes: first.bytes,
				etag: first.etag,
				allowedHosts: remote.allowedHosts,
				remoteBudget: remote.budget,
			});
			decoded = await readWindow(image, bands, window);
		} catch (error) {
			throw inputReadFailure(
				{ name: first.name, uploadId: first.upload_id, href: first.href },
				error,
				`decoding rows ${window.rowStart}-${window.rowEnd}, columns ${window.colStart}-${window.colEnd}`,
			);
		}
		for (const input of group) decodedInputs.set(input.name, { window: decoded, position: bands.indexOf(input.band) });
	}
	return decodedInputs;
}

/** The window of every input, by input name. */
export async function readWindowInputs(
	env: Env,
	job: JobRecord,
	inputs: readonly PlannedInput[],
	window: PixelWindow,
): Promise<Map<string, DecodedInput>> {
	const allowedHosts = job.request.remote?.allowed_hosts ?? null;
	const budget = jobRemoteBudget(env, job.id);
	try {
		return await readInputs(env, { allowedHosts, budget }, inputs, window);
	} finally {
		await budget.settle();
	}
}
