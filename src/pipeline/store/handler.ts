/**
 * store: assembles result.tif, a Cloud-Optimized GeoTIFF, from the compute strips. It builds
 * the overviews from the strips' averages first (their tiles' sizes are needed for the IFDs),
 * then streams header and IFDs, the overview tiles (smallest first) and the strips' full
 * resolution tiles into one R2 multipart upload: the whole file is never in memory. publish
 * records the artifact once the job is done.
 */
import { listStripStats } from "../../db/queries";
import { COG_TILE_SIZE, cogHeader, cogLevels } from "../../raster/cog-writer";
import { objectKeys } from "../../storage/keys";
import { MultipartWriter } from "../../storage/multipart";
import { jobMessage } from "../message";
import type { JobPlan, StripSpan } from "../plan";
import type { StripOutput } from "../publish/statistics";
import { sendToStage } from "../send";
import { done, type StageHandler } from "../stage";
import { buildOverviews, overviewWorkingSetBytes } from "./overviews";

export const RESULT_ARTIFACT = "result.tif";

/** Size of every part but the last of result.tif's multipart upload. */
const RESULT_PART_BYTES = 8 * 1024 * 1024;

/**
 * Bytes store needs for a `width` x `height` result: what building the overviews holds, or,
 * once they are built, the part of result.tif being uploaded. Unlike compute's strips it grows
 * with the width, so validate refuses a raster over STORE_BUDGET_BYTES before any strip is
 * computed.
 */
export function storeWorkingSetBytes(width: number, height: number): number {
	return Math.max(overviewWorkingSetBytes(width, height), RESULT_PART_BYTES);
}

/** The widest result of this height whose store fits `budgetBytes` (0 when none does). */
export function widestStorableWidth(height: number, budgetBytes: number): number {
	let fits = 0;
	let over = 2 ** 32;
	while (over - fits > 1) {
		const width = Math.floor((fits + over) / 2);
		if (storeWorkingSetBytes(width, height) <= budgetBytes) fits = width;
		else over = width;
	}
	return fits;
}

/** A run of one strip's tiles that lie next to each other in both the strip and the file. */
interface TileRun {
	strip: number;
	offset: number;
	length: number;
}

/**
 * Full-resolution tiles in file order (row-major over the raster), as runs of consecutive
 * tiles of one strip, with the byte count of every tile in file order.
 */
function fullResolutionTiles(jobId: string, plan: JobPlan, outputs: ReadonlyMap<number, StripOutput>) {
	const tileByteCounts: number[] = [];
	const runs: TileRun[] = [];
	const tilesDown = Math.ceil(plan.height / COG_TILE_SIZE);
	const bandsByTileRow = Map.groupBy(plan.strips, (strip) => Math.floor(strip.rowStart / COG_TILE_SIZE));
	let band: StripSpan[] = [];
	for (let tileRow = 0; tileRow < tilesDown; tileRow++) {
		band = (bandsByTileRow.get(tileRow) ?? band).toSorted((a, b) => a.colStart - b.colStart);
		for (const strip of band) {
			const output = outputs.get(strip.index);
			if (!output) throw new Error(`job ${jobId}: strip ${strip.index} has no output recorded`);
			const across = Math.ceil((strip.colEnd - strip.colStart) / COG_TILE_SIZE);
			const first = (tileRow - strip.rowStart / COG_TILE_SIZE) * across;
			const counts = output.tile_bytes.slice(first, first + across);
			if (counts.length !== across) throw new Error(`job ${jobId}: strip ${strip.index} lacks tiles`);
			const offset = output.tile_bytes.slice(0, first).reduce((sum, count) => sum + count, 0);
			runs.push({ strip: strip.index, offset, length: counts.reduce((sum, count) => sum + count, 0) });
			tileByteCounts.push(...counts);
		}
	}
	return { tileByteCounts, runs };
}

export const storeStage: StageHandler = {
	message: jobMessage,
	async handle(message, { env, job }) {
		const { plan, formula } = job;
		if (!plan || !formula) throw new Error(`job ${job.id} has no plan`);
		const outputs = new Map<number, StripOutput>();
		for (const strip of await listStripStats<StripOutput>(env.DB, job.id)) {
			if (strip.stats) outputs.set(strip.index, strip.stats);
		}
		const levels = cogLevels(plan.width, plan.height);
		const fullResolution = fullResolutionTiles(job.id, plan, outputs);
		const overviewByteCounts = await buildOverviews(env.BUCKET, job.id, plan, levels);
		const { header, totalBytes } = cogHeader(
			{ width: plan.width, height: plan.height, geo: plan.geo, description: formula.index ?? formula.expression },
			[fullResolution.tileByteCounts, ...overviewByteCounts],
		);

		const key = objectKeys.artifact(job.id, RESULT_ARTIFACT);
		const upload = await env.BUCKET.createMultipartUpload(key, { httpMetadata: { contentType: "image/tiff" } });
		const writer = new MultipartWriter(upload, RESULT_PART_BYTES);
		let stored: R2Object;
		try {
			await writer.write(header);
			for (let level = levels.length - 1; level >= 1; level--) {
				const tileRows = levels[level]?.tilesDown ?? 0;
				for (let tileRow = 0; tileRow < tileRows; tileRow++) {
					const object = await env.BUCKET.get(objectKeys.overviewTiles(job.id, level, tileRow));
					if (!object) throw new Error(`job ${job.id}: overview ${level} tile row ${tileRow} is missing`);
					await writer.writeStream(object.body);
				}
			}
			for (const run of fullResolution.runs) {
				const object = await env.BUCKET.get(objectKeys.stripTiles(job.id, run.strip), {
					range: { offset: run.offset, length: run.length },
				});
				if (!object) throw new Error(`job ${job.id}: the tiles of strip ${run.strip} are missing`);
				await writer.writeStream(object.body);
			}
			if (writer.written !== totalBytes) {
				throw new Error(`job ${job.id}: wrote ${writer.written} bytes of result.tif, the header says ${totalBytes}`);
			}
			stored = await writer.complete();
		} catch (error) {
			// A retry starts a new upload; this one's parts would otherwise linger until R2 expires them.
			await writer.abort().catch(() => undefined);
			throw error;
		}
		await sendToStage(env, "publish", { job_id: job.id, trace_id: message.trace_id });
		return done({ bytes: stored.size, strips: plan.strips.length, levels: levels.length });
	},
};
