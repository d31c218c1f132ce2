/**
 * The pipeline under Node, one batch at a time, each invocation measured: what bench:scene and
 * bench:fields share. It owns the whole-scene pair both run on (generated once into
 * artifacts/bench-scene/), a pipeline set up over the Node bindings of bench/node-bindings.ts
 * (a tenant, uploads of local files, jobs admitted as POST /v1/jobs admits them), and
 * {@link measure}: per invocation, CPU (all threads) less the R2 and D1 stand-ins' calls and the
 * sampling's own, wall time, and peak memory.
 *
 * Run under `node --expose-gc --import tsx --import ./bench/wasm-modules.mjs` (the npm scripts do).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { getHeapStatistics } from "node:v8";
import { wranglerVars } from "../scripts/wrangler-vars";
import { defaultQuotas } from "../src/access/quotas";
import { ensureTenant } from "../src/db/access";
import { admitJob } from "../src/db/jobs";
import { insertUpload } from "../src/db/uploads";
import { enterHeavyMessage, wasmBytesInherited } from "../src/isolate-memory";
import { dispatchBatch, heavyMessageKind } from "../src/pipeline/dispatch";
import { keptWasmBytes } from "../src/wasm/instances";
import "../src/processes/registry";
import { pipelineStages, type StageName, stageNames } from "../src/pipeline/stages";
import type { RasterSummary } from "../src/raster/inspect";
import {
	collectingQueue,
	cpuMsSince,
	directoryR2,
	installWorkersApis,
	nodeD1,
	type ServedBytes,
	StorageCpu,
} from "./node-bindings";

export const ROOT = resolve(import.meta.dirname, "..");
export const SCENE_CACHE = join(ROOT, "artifacts", "bench-scene");
export const MiB = 1024 * 1024;
export const vars = wranglerVars();
export const CPU_LIMIT_MS = 30_000;
/** An isolate's memory limit: 128 MB (decimal), about 122 MiB. */
export const ISOLATE_MEMORY_BYTES = 128_000_000;
export const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

/**
 * The red/NIR pair given (`red.tif nir.tif`), or the 10980 x 10980 UInt16 tiled Deflate COGs
 * of bench/scene-files.py, written with GDAL once and cached in artifacts/bench-scene/.
 */
export function scenePair([red, nir]: readonly string[]): { red: string; nir: string } {
	if (red && nir) return { red: resolve(red), nir: resolve(nir) };
	const cached = { red: join(SCENE_CACHE, "red.tif"), nir: join(SCENE_CACHE, "nir.tif") };
	if (!existsSync(cached.red) || !existsSync(cached.nir)) {
		mkdirSync(SCENE_CACHE, { recursive: true });
		console.log("writing the 10980 x 10980 pair with GDAL (once; cached in artifacts/bench-scene/) …");
		execFileSync("/usr/bin/python3", [join(import.meta.dirname, "scene-files.py"), SCENE_CACHE], {
			stdio: "inherit",
		});
	}
	return cached;
}

/** One invocation, measured. */
export interface Invocation {
	step: string;
	detail: string;
	/** CPU of the invocation (all threads), less the R2 and D1 stand-ins' calls. */
	cpuMs: number;
	/**
	 * The same on the invocation's own thread alone, what a Worker's CPU time counts: without
	 * the collector's and compiler's background threads (the stand-ins' calls are synchronous,
	 * so they run on this thread).
	 */
	threadCpuMs: number;
	/** CPU of the R2 and D1 stand-ins' calls during the invocation. */
	storageCpuMs: number;
	wallMs: number;
	/**
	 * Largest heapUsed + external seen during the invocation, above the level after a full GC
	 * before it, plus the Wasm memory a heavy message began with (kept from the message before
	 * it, in that level, and reused by this one: src/isolate-memory.ts).
	 */
	peakBytes: number;
	/**
	 * That level less the Wasm memories kept then (a heavy message's peak counts those it
	 * inherits): what else the process holds between invocations.
	 */
	baseBytes: number;
}

declare const gc: (() => void) | undefined;

/** The garbage collector, which `node --expose-gc` exposes (the npm scripts do). */
function collector(): () => void {
	if (typeof gc !== "function") throw new Error("run with node --expose-gc (the npm scripts do)");
	return gc;
}

/**
 * Bytes in use: the JavaScript heap and what lies outside it (ArrayBuffers, Wasm memories), as
 * process.memoryUsage() gives heapUsed + external, read from V8 directly (a tenth of the cost).
 */
function usedBytes(): number {
	const heap = getHeapStatistics();
	return heap.used_heap_size + heap.external_memory;
}

/**
 * Collects garbage until the external memory it frees is gone: one full GC does not release
 * ArrayBuffers and Wasm memories (their backing stores go on a later GC), so a single gc()
 * leaves the previous invocation's buffers in the level an invocation is measured above.
 * Then waits, idle, for the collector's background threads to sweep what those GCs freed.
 */
async function settle(): Promise<number> {
	const collect = collector();
	let level = usedBytes();
	for (let round = 0; round < 5; round++) {
		collect();
		await new Promise((resolve) => setImmediate(resolve));
		const now = usedBytes();
		const freed = level - now;
		level = now;
		if (freed <= 64 * 1024 && round > 0) break;
	}
	await new Promise((resolve) => setTimeout(resolve, SWEEP_WAIT_MS));
	return usedBytes();
}

/**
 * How long settle() leaves the collector's threads to sweep after its forced GCs. Without the
 * wait their sweeping was counted in the next invocation's CPU on all threads: an empty
 * invocation measured right after settle() over a 53 MiB heap took about 3 ms of CPU on other
 * threads in four runs of six, and at most 0.2 ms with a 10 ms wait; a Worker's invocation
 * follows no forced GC.
 */
const SWEEP_WAIT_MS = 10;

/**
 * Runs one invocation and measures it. Memory is sampled by a 2 ms timer and around every R2
 * and D1 call (where buffers are fullest: tiles being stored, a part being uploaded); a timer
 * cannot fire inside a synchronous stretch, so those samples catch what it would miss.
 */
export async function measure(
	step: string,
	detail: string,
	storage: StorageCpu,
	run: () => Promise<unknown>,
): Promise<Invocation> {
	const base = await settle();
	const keptBefore = keptWasmBytes();
	let peak = base;
	// What sampling costs is left out of the invocation's CPU, like the stand-ins' calls.
	let samplingMs = 0;
	const sample = () => {
		const start = process.cpuUsage();
		peak = Math.max(peak, usedBytes());
		samplingMs += cpuMsSince(start);
	};
	const sampler = setInterval(sample, 2);
	storage.aroundCall = sample;
	const cpu = process.cpuUsage();
	const threadCpu = process.threadCpuUsage();
	const storageBefore = storage.ms;
	const wallStart = performance.now();
	// A heavy message begins synchronously, so what it inherited is known once run() returns its promise.
	let inheritedBytes = 0;
	try {
		const running = run();
		inheritedBytes = wasmBytesInherited();
		await running;
	} finally {
		clearInterval(sampler);
		storage.aroundCall = null;
	}
	const wallMs = performance.now() - wallStart;
	const cpuMs = cpuMsSince(cpu);
	const threadSpent = process.threadCpuUsage(threadCpu);
	sample();
	const storageCpuMs = storage.ms - storageBefore;
	return {
		step,
		detail,
		cpuMs: cpuMs - storageCpuMs - samplingMs,
		threadCpuMs: (threadSpent.user + threadSpent.system) / 1000 - storageCpuMs - samplingMs,
		storageCpuMs,
		wallMs,
		peakBytes: peak - base + inheritedBytes,
		baseBytes: base - keptBefore,
	};
}

/** Hands `bodies` to the dispatcher as one batch of `queue`, as the Workers runtime would; every message must be acknowledged. */
export async function dispatch(env: Env, queue: string, bodies: readonly unknown[]): Promise<void> {
	const retried: unknown[] = [];
	const messages = bodies.map((body, i) => ({
		id: `bench-${i}`,
		timestamp: new Date(),
		attempts: 1,
		body,
		ack() {},
		retry() {
			retried.push(body);
		},
	}));
	await dispatchBatch({ queue, messages, ackAll() {}, retryAll() {} } as unknown as MessageBatch<unknown>, env);
	if (retried.length > 0)
		throw new Error(`${queue}: ${retried.length} message(s) were retried: ${JSON.stringify(retried)}`);
}

/** A job message as a stage's queue carries it. */
export type JobMessage = Record<string, unknown> & { job_id: string; trace_id: string };

/** A job as admitJob records it, less what the bench gives every job (tenant and trace). */
export type BenchJob = Omit<Parameters<typeof admitJob>[1], "tenantId" | "traceId" | "spans">;

/** The binding of a stage's queue: INGEST_QUEUE, COMPUTE_QUEUE, … */
export type Producer = (typeof pipelineStages)[StageName]["producer"];

/** The pipeline's bindings under Node, with a tenant to run jobs as. */
export interface NodePipeline {
	env: Env;
	/** Each stage's producer binding, keeping what is sent. */
	queues: Record<Producer, Queue & { sent: unknown[] }>;
	storage: StorageCpu;
	/** Bytes the R2 stand-in served, per object key. */
	served: ServedBytes;
	/** The R2 stand-in's directory. */
	work: string;
	tenantId: string;
	/** Stores the file as upload `upl_<name>` (a symlink, so nothing is copied) and records it. */
	upload(name: string, path: string): Promise<{ id: string; objectKey: string; bytes: number }>;
	/** Records a job as POST /v1/jobs does; the bench's tenant has no quota in the way. */
	admit(job: BenchJob): Promise<JobMessage>;
	/** Runs `bodies` through `stage` as one batch, measured. */
	invoke(stage: StageName, bodies: readonly unknown[], step?: string, detail?: string): Promise<Invocation>;
	/** Puts console.log back and removes the directory. */
	close(): void;
}

export async function startNodePipeline(name: string): Promise<NodePipeline> {
	installWorkersApis();
	const work = mkdtempSync(join(tmpdir(), `${name}-`));
	const storage = new StorageCpu();
	const served: ServedBytes = new Map();
	// The stages' log lines are written (their CPU counts, as in a Worker) but not shown.
	const print = console.log;
	console.log = (...args: unknown[]) => {
		if (!(typeof args[0] === "string" && args[0].startsWith('{"level":'))) print(...args);
	};
	const queues = Object.fromEntries(
		stageNames.map((stage) => [pipelineStages[stage].producer, collectingQueue()]),
	) as NodePipeline["queues"];
	const env = {
		DB: nodeD1(join(ROOT, "migrations"), storage),
		BUCKET: directoryR2(work, storage, served),
		...queues,
		...vars,
	} as unknown as Env;
	const tenant = await ensureTenant(env.DB, {
		id: "ten_bench",
		name: "bench",
		quotas: defaultQuotas,
		createdAt: new Date().toISOString(),
	});
	return {
		env,
		queues,
		storage,
		served,
		work,
		tenantId: tenant.id,
		async upload(name, path) {
			const objectKey = `uploads/${name}.tif`;
			mkdirSync(dirname(join(work, objectKey)), { recursive: true });
			symlinkSync(path, join(work, objectKey));
			const upload = { id: `upl_${name}`, objectKey, bytes: statSync(path).size, createdAt: new Date().toISOString() };
			await insertUpload(
				env.DB,
				{ ...upload, raster: {} as RasterSummary },
				{ tenantId: tenant.id, traceId: TRACE_ID },
			);
			return upload;
		},
		async admit(job) {
			const admission = await admitJob(
				env.DB,
				{ ...job, tenantId: tenant.id, traceId: TRACE_ID, spans: null },
				Number.MAX_SAFE_INTEGER,
				null,
			);
			if (!("job" in admission)) throw new Error(`the bench job was refused (${admission.refused})`);
			return { job_id: job.id, trace_id: TRACE_ID };
		},
		invoke(stage, bodies, step = stage, detail = "") {
			// A heavy message of another stage or job drops the Wasm instances before it starts: done
			// here first, so the level it is measured above no longer holds them.
			const [first] = bodies;
			if (pipelineStages[stage].heavy && first !== undefined) enterHeavyMessage(heavyMessageKind(stage, first));
			return measure(step, detail, storage, () => dispatch(env, pipelineStages[stage].queue, bodies));
		},
		close() {
			console.log = print;
			rmSync(work, { recursive: true, force: true });
		},
	};
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
export const slowestBy = <T>(items: readonly T[], value: (item: T) => number): T =>
	items.reduce((a, b) => (value(b) > value(a) ? b : a));
