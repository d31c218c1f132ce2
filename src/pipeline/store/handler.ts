/**
 * store: assembles result.tif, a Cloud-Optimized GeoTIFF, from the windows compute wrote, in
 * many invocations that fan out like compute's windows (at most the plan's windows_in_flight
 * messages of a job queued at once, each finished one queuing the next):
 *
 * 1. `{job_id, trace_id}` (what compute sends once every window is done): records the overview
 *    tree's blocks (./overviews.ts) and queues level 1's.
 * 2. `task: "overview"`: builds one block; the delivery that completes a level queues the next
 *    level's blocks, and the one that completes the top queues the layout.
 * 3. `task: "layout"`: from every tile's byte count, writes the header and the file's layout
 *    (./layout.ts), creates the R2 multipart upload, records it in D1 and queues the parts.
 * 4. `task: "part"`: reads its byte range of the file from the header, block and window objects
 *    and uploads it as its part; the delivery that records the last part completes the upload
 *    with every part's ETag (from D1) and starts the process's next stage (publish).
 *
 * Each step is idempotent: blocks and parts are counted done in D1 transactions, a redelivered
 * part uploads the same bytes under the same number again, and a redelivery only queues what is
 * not done yet. A job that ends meanwhile has its upload aborted (../failure.ts).
 */
import { z } from "zod";
import type { JobRecord } from "../../db/jobs";
import {
	completeOverviewBlock,
	completeResultPart,
	getOverviewBlock,
	getResultUpload,
	listOverviewBlocks,
	listWindowTileBytes,
	recordResultUpload,
	resultPartsDone,
	saveOverviewBlocks,
} from "../../db/store";
import { type CogLevel, cogLevels } from "../../raster/cog-writer";
import type { OutputOptions } from "../../raster/output-type";
import { objectKeys } from "../../storage/keys";
import { tileEncoder } from "../../wasm/index";
import { advance } from "../advance";
import { jobMessage } from "../message";
import { type JobPlan, jobPlan } from "../plan";
import { sendAllToStage, sendToStage } from "../send";
import { done, type StageContext, type StageHandler, type StageOutcome } from "../stage";
import { RESULT_PART_BYTES } from "./budget";
import { blockId, partLength, partReads, type ResultLayout, resultLayout } from "./layout";
import { buildOverviewBlock, overviewTree, type TreeLevel } from "./overviews";
import { forEachConcurrently, readInto } from "./reads";
import {
	completeResultUpload,
	MIN_PART_BYTES,
	RESULT_ARTIFACT,
	resultStored,
	resumeResultUpload,
} from "./result-upload";

/** R2 reads one part invocation keeps in flight at once. */
const READS_IN_FLIGHT = 4;

const index = z.number().int().min(0);

export const storeMessage = z.union([
	jobMessage.extend({ task: z.literal("overview"), level: index.min(1), block: index }),
	jobMessage.extend({ task: z.literal("layout") }),
	jobMessage.extend({ task: z.literal("part"), part: index.min(1) }),
	// What compute (or a stage after it) sends: the start of store.
	jobMessage.extend({ task: z.never().optional() }),
]);
export type StoreMessage = z.infer<typeof storeMessage>;

interface StoreJob {
	context: StageContext;
	/** What result.tif is, as the job's process says. */
	raster: { description: string | undefined; output: OutputOptions | undefined };
	env: Env;
	job: JobRecord;
	plan: JobPlan;
	levels: CogLevel[];
	tree: TreeLevel[];
	/** Messages of the job's store one step keeps queued at once. */
	inFlight: number;
	traceId: string;
}

const messageOf = (store: StoreJob) => ({ job_id: store.job.id, trace_id: store.traceId });

/** The first `inFlight` of `count` items (0-based), less those `isDone` says are done. */
async function firstNotDone(
	store: StoreJob,
	count: number,
	isDone: (indices: number[]) => Promise<Set<number>>,
): Promise<number[]> {
	const first = Array.from({ length: Math.min(count, store.inFlight) }, (_, i) => i);
	const doneAlready = await isDone(first);
	return first.filter((i) => !doneAlready.has(i));
}

/** Queues the blocks of a tree level that are among its first ones and not done. */
async function queueLevel(store: StoreJob, treeLevel: TreeLevel): Promise<number> {
	const blocks = treeLevel.blocksAcross * treeLevel.blocksDown;
	const queue = await firstNotDone(store, blocks, async () => {
		const rows = await listOverviewBlocks(store.env.DB, store.job.id, treeLevel.level);
		return new Set(rows.filter((row) => row.done).map((row) => row.block));
	});
	await sendAllToStage(
		store.env,
		"store",
		queue.map((block) => ({ ...messageOf(store), task: "overview", level: treeLevel.level, block })),
	);
	return queue.length;
}

async function begin(store: StoreJob): Promise<StageOutcome> {
	const [first] = store.tree;
	if (!first) return layOut(store);
	await saveBlocks(store);
	const queued = await queueLevel(store, first);
	return done({ levels: store.levels.length, tree_levels: store.tree.length, queued });
}

async function saveBlocks(store: StoreJob): Promise<void> {
	await saveOverviewBlocks(
		store.env.DB,
		store.job.id,
		store.tree.map((treeLevel) => ({ level: treeLevel.level, blocks: treeLevel.blocksAcross * treeLevel.blocksDown })),
	);
}

async function overview(store: StoreJob, level: number, block: number): Promise<StageOutcome> {
	const { env, job } = store;
	const treeIndex = store.tree.findIndex((candidate) => candidate.level === level);
	const treeLevel = store.tree[treeIndex];
	const record = await getOverviewBlock(env.DB, job.id, level, block);
	if (!treeLevel || !record) throw new Error(`job ${job.id}: level ${level} block ${block} is not planned`);
	const alreadyDone = record.done;
	let tileBytes: number[][] | null = null;
	if (!alreadyDone) {
		tileBytes = await buildOverviewBlock(
			env.BUCKET,
			{ jobId: job.id, plan: store.plan, levels: store.levels, tree: store.tree, output: store.raster.output },
			level,
			block,
			tileEncoder,
		);
	}
	const { remaining, total } = await completeOverviewBlock(env.DB, job.id, level, block, tileBytes);
	// The block this many places on, unless a redelivery finds it done (a first delivery may
	// have died before sending it; sending it again never starts a second chain).
	const next = block + store.inFlight;
	if (next < total && !(alreadyDone && (await getOverviewBlock(env.DB, job.id, level, next))?.done)) {
		await sendToStage(env, "store", { ...messageOf(store), task: "overview", level, block: next });
	}
	if (remaining === 0) {
		const above = store.tree[treeIndex + 1];
		if (above) await queueLevel(store, above);
		else if (!(alreadyDone && (await getResultUpload(env.DB, job.id)))) {
			await sendToStage(env, "store", { ...messageOf(store), task: "layout" });
		}
	}
	return done({
		level,
		block,
		tiles: tileBytes?.reduce((sum, counts) => sum + counts.length, 0) ?? 0,
		remaining,
		...(alreadyDone ? { already_done: true } : {}),
	});
}

/** Queues the first parts that are not done. */
async function queueParts(store: StoreJob, partCount: number): Promise<number> {
	const parts = await firstNotDone(store, partCount, async (indices) => {
		const doneParts = await resultPartsDone(
			store.env.DB,
			store.job.id,
			indices.map((i) => i + 1),
		);
		return new Set([...doneParts].map((part) => part - 1));
	});
	await sendAllToStage(
		store.env,
		"store",
		parts.map((i) => ({ ...messageOf(store), task: "part", part: i + 1 })),
	);
	return parts.length;
}

async function layOut(store: StoreJob): Promise<StageOutcome> {
	const { env, job, plan, levels, tree } = store;
	const recordedBefore = await getResultUpload(env.DB, job.id);
	if (recordedBefore) {
		return done({ parts: recordedBefore.partCount, queued: await queueParts(store, recordedBefore.partCount) });
	}
	const blocks = await listOverviewBlocks(env.DB, job.id);
	const blockTileBytes = new Map<string, number[][]>();
	for (const block of blocks) {
		if (!block.tileBytes) throw new Error(`job ${job.id}: level ${block.level} block ${block.block} is not done`);
		blockTileBytes.set(blockId(block.level, block.block), block.tileBytes);
	}
	const { header, layout } = resultLayout({
		jobId: job.id,
		plan,
		geo: plan.geo,
		description: store.raster.description,
		output: store.raster.output,
		levels,
		tree,
		windowTileBytes: await listWindowTileBytes(env.DB, job.id),
		blockTileBytes,
	});
	await env.BUCKET.put(objectKeys.resultHeader(job.id), header);
	await env.BUCKET.put(objectKeys.resultLayout(job.id), JSON.stringify(layout));

	const objectKey = objectKeys.artifact(job.id, RESULT_ARTIFACT);
	const created = await env.BUCKET.createMultipartUpload(objectKey, { httpMetadata: { contentType: "image/tiff" } });
	const partCount = Math.max(1, Math.ceil(layout.totalBytes / RESULT_PART_BYTES));
	let recorded: Awaited<ReturnType<typeof recordResultUpload>>;
	try {
		recorded = await recordResultUpload(env.DB, job.id, {
			objectKey,
			multipartId: created.uploadId,
			partBytes: RESULT_PART_BYTES,
			partCount,
			totalBytes: layout.totalBytes,
		});
	} catch (error) {
		await created.abort().catch(() => undefined);
		throw error;
	}
	// Another delivery recorded its upload first, or the job ended (and its cleanup found none).
	if (recorded?.multipartId !== created.uploadId) await created.abort();
	if (!recorded) return done({ ended_before_upload: true });
	const queued = await queueParts(store, recorded.partCount);
	return done({ bytes: layout.totalBytes, parts: recorded.partCount, segments: layout.segments.length, queued });
}

async function readLayout(bucket: R2Bucket, jobId: string): Promise<ResultLayout> {
	const object = await bucket.get(objectKeys.resultLayout(jobId));
	if (!object) throw new Error(`job ${jobId}: result.tif's layout is missing`);
	return JSON.parse(await object.text()) as ResultLayout;
}

/** Reads part `part` of result.tif from the objects it is made of. */
async function readPart(bucket: R2Bucket, jobId: string, layout: ResultLayout, partBytes: number, part: number) {
	const bytes = new Uint8Array(partLength(layout.totalBytes, partBytes, part));
	await forEachConcurrently(partReads(layout, partBytes, part), READS_IN_FLIGHT, async (read) => {
		const object = await bucket.get(read.key, { range: { offset: read.offset, length: read.length } });
		if (!object) throw new Error(`job ${jobId}: ${read.key} is missing`);
		await readInto(object.body, bytes, read.at, read.length);
	});
	return bytes;
}

async function finishUpload(store: StoreJob): Promise<boolean> {
	const completed = await completeResultUpload(store.env.DB, store.env.BUCKET, store.job.id);
	if (completed) await advance(store.context, "store", store.plan);
	return completed;
}

async function uploadPart(store: StoreJob, part: number): Promise<StageOutcome> {
	const { env, job } = store;
	const upload = await getResultUpload(env.DB, job.id);
	if (!upload || part > upload.partCount) throw new Error(`job ${job.id}: part ${part} of result.tif is not planned`);
	// Completed: a late redelivery, or the completing delivery died before asking for publish.
	if (upload.completedAt) return done({ part, completed: await finishUpload(store), already_done: true });
	if (upload.abortedAt) return done({ part, aborted: true });
	if (upload.partBytes < MIN_PART_BYTES) throw new Error(`job ${job.id}: parts of ${upload.partBytes} bytes`);

	const bytes = await readPart(env.BUCKET, job.id, await readLayout(env.BUCKET, job.id), upload.partBytes, part);
	let etag: string;
	try {
		etag = (await resumeResultUpload(env.BUCKET, upload).uploadPart(part, bytes)).etag;
	} catch (error) {
		// Another delivery completed the upload meanwhile; otherwise (aborted, or R2 failed) retry.
		if (!(await resultStored(env.BUCKET, upload))) throw error;
		return done({ part, completed: await finishUpload(store), already_done: true });
	}
	const { remaining, alreadyDone } = await completeResultPart(env.DB, job.id, part, etag);
	const next = part + store.inFlight;
	if (next <= upload.partCount && !(alreadyDone && (await resultPartsDone(env.DB, job.id, [next])).has(next))) {
		await sendToStage(env, "store", { ...messageOf(store), task: "part", part: next });
	}
	const completed = remaining === 0 ? await finishUpload(store) : false;
	return done({ part, bytes: bytes.byteLength, remaining, ...(completed ? { completed } : {}) });
}

export const storeStage: StageHandler<StoreMessage> = {
	message: storeMessage,
	async handle(message, context) {
		const { env, job, traceId } = context;
		const plan = jobPlan(job);
		if (!plan) throw new Error(`job ${job.id} has no plan`);
		const levels = cogLevels(plan.width, plan.height);
		if (!context.process.resultRaster) throw new Error(`process ${context.process.name} writes no result.tif`);
		const store: StoreJob = {
			context,
			raster: context.process.resultRaster(job),
			env,
			job,
			plan,
			levels,
			tree: overviewTree(levels),
			inFlight: plan.windows_in_flight ?? Number.MAX_SAFE_INTEGER,
			traceId,
		};
		switch (message.task) {
			case "overview":
				return overview(store, message.level, message.block);
			case "layout":
				return layOut(store);
			case "part":
				return uploadPart(store, message.part);
			default:
				return begin(store);
		}
	},
};
