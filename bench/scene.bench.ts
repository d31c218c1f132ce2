/**
 * bench:scene — a whole Sentinel-2 scene through the pipeline. Generates (once, cached in
 * artifacts/bench-scene/) or takes a 10980 x 10980 UInt16 red/NIR pair of tiled Deflate COGs,
 * then:
 *
 * 1. runs the full NDVI job on local `wrangler dev` (uploading both bands in parts), and reports
 *    the wall time and, per step (a stage, or one of store's: its start, each level of overview
 *    blocks, the layout, the parts), the invocations and the slowest one, from the job's events;
 * 2. runs the same messages again under Node through the dispatcher, one batch at a time as the
 *    consumers are configured (a heavy stage's batch is one message; a light stage's batch is
 *    settled at once, measured with a full batch of ingest messages), with the budgets of
 *    wrangler.toml (Node bindings in bench/node-bindings.ts). For each invocation: CPU time
 *    (process.cpuUsage, all threads) less the R2 and D1 stand-ins' calls (R2 and D1 calls are
 *    subrequests, outside a Worker's CPU time), wall time, and peak memory (see `measure`).
 *    Local workerd reports neither CPU nor memory and does not enforce 128 MB. The critical path
 *    is the sum over steps of each step's slowest invocation: what the job takes when every
 *    invocation of a step runs at once, as Cloudflare runs a queue's invocations in parallel;
 * 3. where GDAL is installed, times gdal_calc.py's NDVI on the same pair with one thread and
 *    prints the ratios.
 *
 * Under Node it also counts the blocks compute decodes, against the blocks the files hold: a plan
 * that decodes each block once shows 1.00.
 *
 * Usage: npm run bench:scene [-- [--stripped] [--node-only] [red.tif nir.tif]].
 *   --stripped   the same pair re-written in GDAL's default layout, full-width strips (with
 *                `gdal_translate -co COMPRESS=DEFLATE -co PREDICTOR=2`, once, cached beside it)
 *   --node-only  skips the job on wrangler dev: the CPU and memory figures only
 * Results also go to artifacts/bench-scene/report.json (report-strips.json with --stripped).
 */
import { execFileSync, spawnSync } from "node:child_process";

import {
	closeSync,
	existsSync,
	mkdirSync,
	mkdtempSync,
	openSync,
	readSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { getHeapStatistics } from "node:v8";
import { GeoTIFFImage } from "geotiff";
import { freePort, startDevServer, stopChildrenOnExit, stopGroup, waitForHealth } from "../scripts/dev-server";
import { wranglerVars } from "../scripts/wrangler-vars";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import { defaultQuotas } from "../src/access/quotas";
import { ensureTenant } from "../src/db/access";
import { admitJob, getJob } from "../src/db/jobs";
import { insertUpload } from "../src/db/uploads";
import { compileFormula } from "../src/indices/formula";
import { dispatchBatch } from "../src/pipeline/dispatch";
import "../src/processes/registry";
import { type JobPlan, jobPlan } from "../src/pipeline/plan";
import { pipelineStages, type StageName } from "../src/pipeline/stages";
import { storeWorkingSetBytes } from "../src/pipeline/store/budget";
import type { RasterSummary } from "../src/raster/inspect";
import { collectingQueue, cpuMsSince, directoryR2, nodeD1, StorageCpu } from "./node-bindings";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(ROOT, "artifacts", "bench-scene");
const MiB = 1024 * 1024;
const vars = wranglerVars();
const STRIP_BUDGET_BYTES = Number(vars.STRIP_BUDGET_BYTES);
const STORE_BUDGET_BYTES = Number(vars.STORE_BUDGET_BYTES);
const WORKER_MEMORY_LIMIT = 128 * MiB;
const CPU_LIMIT_MS = 30_000;
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

/**
 * `path` in GDAL's default GeoTIFF layout, full-width strips (one row each at this width), the
 * same Deflate and predictor: written once beside it as `<name>-strips.tif`.
 */
function stripped(path: string): string {
	const target = join(dirname(path), `${basename(path, ".tif")}-strips.tif`);
	if (!existsSync(target)) {
		console.log(`writing ${target} in full-width strips with gdal_translate (once) …`);
		execFileSync("gdal_translate", ["-q", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2", path, target], {
			stdio: "inherit",
		});
	}
	return target;
}

/**
 * Counts every block geotiff.js is asked to decode: the window reader asks for each block a
 * window needs once. Files are told apart by their size.
 */
function countBlockDecodes(): { decodes: number; blocks: Map<string, number>; stop: () => void } {
	const original = GeoTIFFImage.prototype.getTileOrStrip;
	const counts = {
		decodes: 0,
		blocks: new Map<string, number>(),
		stop: () => {
			GeoTIFFImage.prototype.getTileOrStrip = original;
		},
	};
	GeoTIFFImage.prototype.getTileOrStrip = function (this: GeoTIFFImage, x, y, sample, ...rest) {
		const file = (this as unknown as { source: { fileSize: number } }).source.fileSize;
		const key = `${file}:${x}:${y}:${sample}`;
		counts.decodes++;
		counts.blocks.set(key, (counts.blocks.get(key) ?? 0) + 1);
		return original.call(this, x, y, sample, ...rest);
	} as typeof original;
	return counts;
}

/** Blocks the files hold (one band each). */
function blocksIn(plan: JobPlan): number {
	return plan.inputs.reduce(
		(sum, input) => sum + Math.ceil(plan.width / input.block_width) * Math.ceil(plan.height / input.block_height),
		0,
	);
}

function inputs(): { red: string; nir: string } {
	const files = pairOf(process.argv.slice(2).filter((arg) => !arg.startsWith("--")));
	return process.argv.includes("--stripped") ? { red: stripped(files.red), nir: stripped(files.nir) } : files;
}

function pairOf([red, nir]: string[]): { red: string; nir: string } {
	if (red && nir) return { red: resolve(red), nir: resolve(nir) };
	const cached = { red: join(CACHE, "red.tif"), nir: join(CACHE, "nir.tif") };
	if (!existsSync(cached.red) || !existsSync(cached.nir)) {
		mkdirSync(CACHE, { recursive: true });
		console.log("writing the 10980 x 10980 pair with GDAL (once; cached in artifacts/bench-scene/) …");
		execFileSync("/usr/bin/python3", [join(import.meta.dirname, "scene-files.py"), CACHE], { stdio: "inherit" });
	}
	return cached;
}

// ---------------------------------------------------------------------------------------------
// 1. The job on `wrangler dev`

/** A request to the dev server as the development tenant (`npm run dev` seeds its key). */
function call(url: string, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	headers.set("authorization", `Bearer ${DEVELOPMENT_API_KEY}`);
	return fetch(url, { ...init, headers });
}

/** Uploads a file in parts (Upload-Length, PUT every part, complete); returns the upload id. */
async function uploadInParts(api: string, path: string): Promise<string> {
	const size = statSync(path).size;
	const opened = await call(`${api}/v1/uploads`, { method: "POST", headers: { "upload-length": String(size) } });
	if (opened.status !== 202) throw new Error(`opening an upload: ${opened.status} ${await opened.text()}`);
	const session = (await opened.json()) as {
		id: string;
		part_bytes: number;
		parts: { number: number; bytes: number }[];
	};
	const fd = openSync(path, "r");
	for (const part of session.parts) {
		const bytes = new Uint8Array(part.bytes);
		readSync(fd, bytes, 0, part.bytes, (part.number - 1) * session.part_bytes);
		const sent = await call(`${api}/v1/uploads/${session.id}/parts/${part.number}`, { method: "PUT", body: bytes });
		if (sent.status !== 200) throw new Error(`part ${part.number}: ${sent.status} ${await sent.text()}`);
	}
	closeSync(fd);
	const done = await call(`${api}/v1/uploads/${session.id}/complete`, { method: "POST" });
	if (done.status !== 201) throw new Error(`completing: ${done.status} ${await done.text()}`);
	return session.id;
}

interface StageEvent {
	stage: string;
	status: string;
	at: string;
	duration_ms: number | null;
	detail: Record<string, unknown> | null;
}

/**
 * The step of the pipeline a message belongs to: a stage, or for store its start, one level of
 * overview blocks, the layout or the parts. Steps run one after another; within one, every
 * invocation may run at once (up to the in-flight bound).
 */
export function stepOf(stage: string, body: Record<string, unknown> | null): string {
	if (stage !== "store") return stage;
	switch (body?.task) {
		case "overview":
			return `store: overview level ${body.level}`;
		case "layout":
			return "store: layout";
		case "part":
			return "store: parts";
		default:
			return "store: start";
	}
}

async function runOnWrangler(files: { red: string; nir: string }) {
	const port = await freePort();
	const api = `http://127.0.0.1:${port}`;
	const dev = startDevServer(port);
	try {
		await waitForHealth(dev, api);
		const uploadStart = performance.now();
		const red = await uploadInParts(api, files.red);
		const nir = await uploadInParts(api, files.nir);
		const uploadSeconds = (performance.now() - uploadStart) / 1000;
		const started = performance.now();
		const created = await call(`${api}/v1/jobs`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: red }, nir: { upload_id: nir } } }),
		});
		const { id } = (await created.json()) as { id: string };
		let status = "queued";
		while (status !== "succeeded" && status !== "failed") {
			await sleep(1000);
			status = ((await (await call(`${api}/v1/jobs/${id}`)).json()) as { status: string }).status;
		}
		const wallSeconds = (performance.now() - started) / 1000;
		if (status !== "succeeded")
			throw new Error(`job ${id} ${status}: ${await (await call(`${api}/v1/jobs/${id}`)).text()}`);
		const { events } = (await (await call(`${api}/v1/jobs/${id}/events`)).json()) as { events: StageEvent[] };
		const steps = [...new Set(events.map((event) => stepOf(event.stage, event.detail)))].map((step) => {
			const mine = events.filter((event) => stepOf(event.stage, event.detail) === step);
			const first = Math.min(...mine.map((event) => Date.parse(event.at)));
			const last = Math.max(...mine.map((event) => Date.parse(event.at)));
			const succeeded = mine.filter((event) => event.status === "succeeded");
			return {
				step,
				invocations: succeeded.length,
				span_s: (last - first) / 1000,
				summed_s: succeeded.reduce((sum, event) => sum + (event.duration_ms ?? 0), 0) / 1000,
				slowest_s: Math.max(...succeeded.map((event) => event.duration_ms ?? 0)) / 1000,
			};
		});
		const result = await call(`${api}/v1/jobs/${id}/artifacts/result.tif`, { method: "HEAD" });
		return { job: id, uploadSeconds, wallSeconds, steps, resultBytes: Number(result.headers.get("content-length")) };
	} finally {
		await stopGroup(dev.pid);
	}
}

// ---------------------------------------------------------------------------------------------
// 2. The same invocations under Node, through the dispatcher, measured one batch at a time

interface Invocation {
	step: string;
	detail: string;
	/** CPU of the invocation (all threads), less the R2 and D1 stand-ins' calls. */
	cpuMs: number;
	/** CPU of the R2 and D1 stand-ins' calls during the invocation. */
	storageCpuMs: number;
	wallMs: number;
	/** Largest heapUsed + external seen during the invocation, above the level after a full GC before it. */
	peakBytes: number;
	/** That level: what the process holds between invocations. */
	baseBytes: number;
}

declare const gc: (() => void) | undefined;

/** The garbage collector, which `node --expose-gc` exposes (npm run bench:scene does). */
function collector(): () => void {
	if (typeof gc !== "function") throw new Error("run with node --expose-gc (npm run bench:scene does)");
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
 * Runs one invocation and measures it. Memory is sampled by a 2 ms timer and around every R2
 * and D1 call (where buffers are fullest: tiles being stored, a part being uploaded); a timer
 * cannot fire inside a synchronous stretch, so those samples catch what it would miss.
 */
/**
 * Collects garbage until the external memory it frees is gone: one full GC does not release
 * ArrayBuffers and Wasm memories (their backing stores go on a later GC), so a single gc()
 * leaves the previous invocation's buffers in the level an invocation is measured above.
 */
async function settle(): Promise<number> {
	const collect = collector();
	let level = usedBytes();
	for (let round = 0; round < 5; round++) {
		collect();
		await new Promise((resolve) => setImmediate(resolve));
		const now = usedBytes();
		if (now >= level - 64 * 1024 && round > 0) return now;
		level = now;
	}
	return level;
}

async function measure(
	step: string,
	detail: string,
	storage: StorageCpu,
	run: () => Promise<unknown>,
): Promise<Invocation> {
	const base = await settle();
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
	const storageBefore = storage.ms;
	const wallStart = performance.now();
	try {
		await run();
	} finally {
		clearInterval(sampler);
		storage.aroundCall = null;
	}
	const wallMs = performance.now() - wallStart;
	const cpuMs = cpuMsSince(cpu);
	sample();
	const storageCpuMs = storage.ms - storageBefore;
	return {
		step,
		detail,
		cpuMs: cpuMs - storageCpuMs - samplingMs,
		storageCpuMs,
		wallMs,
		peakBytes: peak - base,
		baseBytes: base,
	};
}

/** Hands `bodies` to the dispatcher as one batch of `queue`, as the Workers runtime would; every message must be acknowledged. */
async function dispatch(env: Env, queue: string, bodies: readonly unknown[]): Promise<void> {
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

const LIGHT_BATCH_SIZE = 10;

async function runUnderNode(files: { red: string; nir: string }) {
	const work = mkdtempSync(join(tmpdir(), "bench-scene-"));
	const storage = new StorageCpu();
	// The stages' log lines are written (their CPU counts, as in a Worker) but not shown.
	const print = console.log;
	console.log = (...args: unknown[]) => {
		if (!(typeof args[0] === "string" && args[0].startsWith('{"level":'))) print(...args);
	};
	try {
		const queues = {
			INGEST_QUEUE: collectingQueue(),
			VALIDATE_QUEUE: collectingQueue(),
			COMPUTE_QUEUE: collectingQueue(),
			HISTOGRAM_QUEUE: collectingQueue(),
			STORE_QUEUE: collectingQueue(),
			PUBLISH_QUEUE: collectingQueue(),
		};
		const env = {
			DB: nodeD1(join(ROOT, "migrations"), storage),
			BUCKET: directoryR2(work, storage),
			...queues,
			...vars,
		} as unknown as Env;
		const inputs = Object.entries(files).map(([name, path]) => {
			const objectKey = `uploads/${name}.tif`;
			mkdirSync(dirname(join(work, objectKey)), { recursive: true });
			symlinkSync(path, join(work, objectKey));
			return { name, uploadId: `upl_${name}`, objectKey, bytes: statSync(path).size };
		});
		const now = new Date().toISOString();
		const tenant = await ensureTenant(env.DB, {
			id: "ten_bench",
			name: "bench",
			quotas: defaultQuotas,
			createdAt: now,
		});
		for (const input of inputs) {
			const upload = { id: input.uploadId, objectKey: input.objectKey, bytes: input.bytes, createdAt: now };
			await insertUpload(
				env.DB,
				{ ...upload, raster: {} as RasterSummary },
				{ tenantId: tenant.id, traceId: TRACE_ID },
			);
		}
		const requested = {
			red: { upload_id: "upl_red", band: 1, scale: 1, offset: 0 },
			nir: { upload_id: "upl_nir", band: 1, scale: 1, offset: 0 },
		};
		/** Records a job as POST /v1/jobs does; the bench's tenant has no quota in the way. */
		const recordJob = async (id: string) => {
			const admission = await admitJob(
				env.DB,
				{
					id,
					tenantId: tenant.id,
					process: "index",
					indexId: "NDVI",
					formula: compileFormula({ index: "ndvi", inputs: requested }),
					request: { index: "ndvi", inputs: requested },
					traceId: TRACE_ID,
				},
				Number.MAX_SAFE_INTEGER,
				null,
			);
			if (!("job" in admission)) throw new Error(`the bench job was refused (${admission.refused})`);
			return { job_id: id, trace_id: TRACE_ID };
		};
		const message = await recordJob("job_benchscene0000000000000");
		const invoke = (stage: StageName, body: Record<string, unknown>, detail = "") =>
			measure(stepOf(stage, body), detail, storage, () => dispatch(env, pipelineStages[stage].queue, [body]));

		const measured = [await invoke("ingest", message), await invoke("validate", message)];
		const blockDecodes = countBlockDecodes();
		try {
			for (const body of queues.COMPUTE_QUEUE.sent as Record<string, unknown>[]) {
				measured.push(await invoke("compute", body, `window ${body.strip_index}`));
				process.stdout.write(".");
			}
		} finally {
			blockDecodes.stop();
		}
		process.stdout.write("\n");
		// The histogram's second pass over the stored windows.
		for (const body of queues.HISTOGRAM_QUEUE.sent as Record<string, unknown>[]) {
			measured.push(await invoke("histogram", body, `window ${body.strip_index}`));
			process.stdout.write("+");
		}
		process.stdout.write("\n");
		// Store's start, then whatever each of its invocations queues, in the order queued.
		for (const body of queues.STORE_QUEUE.sent as Record<string, unknown>[]) {
			const detail = body.task === "overview" ? `block ${body.block}` : body.task === "part" ? `part ${body.part}` : "";
			measured.push(await invoke("store", body, detail));
			process.stdout.write(":");
		}
		process.stdout.write("\n");
		const [publish, ...more] = queues.PUBLISH_QUEUE.sent as Record<string, unknown>[];
		if (!publish || more.length > 0)
			throw new Error(`store asked for publish ${queues.PUBLISH_QUEUE.sent.length} times`);
		measured.push(await invoke("publish", publish));

		// A light stage settles a whole batch at once: the ingest of LIGHT_BATCH_SIZE other jobs in one batch.
		const others = await Promise.all(
			Array.from({ length: LIGHT_BATCH_SIZE }, (_, i) => recordJob(`job_benchlight${String(i).padStart(13, "0")}`)),
		);
		const lightBatch = await measure("ingest", `a batch of ${LIGHT_BATCH_SIZE}`, storage, () =>
			dispatch(env, pipelineStages.ingest.queue, others),
		);
		const job = await getJob(env.DB, message.job_id);
		const plan = job ? jobPlan(job) : null;
		if (job?.status !== "succeeded" || !plan) throw new Error(`the bench job ended ${job?.status}`);
		const decodes = {
			held: blocksIn(plan),
			decoded: blockDecodes.decodes,
			distinct: blockDecodes.blocks.size,
			most: Math.max(0, ...blockDecodes.blocks.values()),
		};
		return { invocations: measured, lightBatch, width: plan.width, height: plan.height, decodes };
	} finally {
		console.log = print;
		rmSync(work, { recursive: true, force: true });
	}
}

// ---------------------------------------------------------------------------------------------
// 3. gdal_calc on one thread

function gdalCalc(files: { red: string; nir: string }): { cpuSeconds: number; wallSeconds: number } | null {
	if (spawnSync("gdal_calc.py", ["--help"]).error) return null;
	const out = join(mkdtempSync(join(tmpdir(), "bench-scene-gdal-")), "ndvi.tif");
	// Children's CPU as the kernel accounts it, so GDAL's own threads would count too.
	const script = `
import resource, subprocess, sys, time
started = time.time()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_utime + usage.ru_stime, time.time() - started)`;
	const run = spawnSync(
		"/usr/bin/python3",
		[
			"-c",
			script,
			"gdal_calc.py",
			"-A",
			files.red,
			"-B",
			files.nir,
			"--outfile",
			out,
			"--type=Float32",
			// Not nan: gdal_calc blends nodata in as value * 0 + nodata * mask, and NaN * 0 is NaN everywhere.
			"--NoDataValue=-9999",
			"--calc=(B.astype(numpy.float32) - A) / (B.astype(numpy.float32) + A)",
			"--co=COMPRESS=DEFLATE",
			"--co=PREDICTOR=3",
			"--co=TILED=YES",
			"--quiet",
		],
		{ encoding: "utf8", env: { ...process.env, GDAL_NUM_THREADS: "1" } },
	);
	rmSync(dirname(out), { recursive: true, force: true });
	if (run.status !== 0) throw new Error(`gdal_calc.py failed: ${run.stderr}`);
	const [cpuSeconds = Number.NaN, wallSeconds = Number.NaN] = run.stdout.trim().split(/\s+/).map(Number);
	return { cpuSeconds, wallSeconds };
}

// ---------------------------------------------------------------------------------------------

stopChildrenOnExit();
const files = inputs();
console.log(`inputs: ${files.red} (${statSync(files.red).size} B), ${files.nir} (${statSync(files.nir).size} B)`);
if (!process.argv.includes("--node-only")) console.log("running the NDVI job on wrangler dev …");
// --node-only skips the job on wrangler dev (its rows are left out), for a quicker look at CPU and memory.
const wrangler = process.argv.includes("--node-only") ? null : await runOnWrangler(files);
console.log("running the same invocations under Node through the dispatcher, one batch at a time …");
const { invocations, lightBatch, decodes, ...sceneSize } = await runUnderNode(files);
console.log("timing gdal_calc.py (one thread) …");
const gdal = gdalCalc(files);

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const slowestBy = <T>(items: readonly T[], value: (item: T) => number): T =>
	items.reduce((a, b) => (value(b) > value(a) ? b : a));

/** Per step, in pipeline order: its invocations and the slowest of them by CPU and by wall time. */
const steps = [...new Set(invocations.map((invocation) => invocation.step))].map((step) => {
	const mine = invocations.filter((invocation) => invocation.step === step);
	return {
		step,
		count: mine.length,
		cpuMs: mine.reduce((sum, invocation) => sum + invocation.cpuMs, 0),
		slowestCpu: slowestBy(mine, (invocation) => invocation.cpuMs),
		slowestWall: slowestBy(mine, (invocation) => invocation.wallMs),
		peak: slowestBy(mine, (invocation) => invocation.peakBytes),
	};
});
const cpuMs = invocations.reduce((sum, invocation) => sum + invocation.cpuMs, 0);
const storageMs = invocations.reduce((sum, invocation) => sum + invocation.storageCpuMs, 0);
const criticalCpuMs = steps.reduce((sum, step) => sum + step.slowestCpu.cpuMs, 0);
const criticalWallMs = steps.reduce((sum, step) => sum + step.slowestWall.wallMs, 0);
const inFlight = Number(vars.WINDOWS_IN_FLIGHT_PER_JOB);
/** With at most WINDOWS_IN_FLIGHT_PER_JOB of a job's messages queued, a step runs in waves. */
const wavesCpuMs = steps.reduce((sum, step) => sum + Math.ceil(step.count / inFlight) * step.slowestCpu.cpuMs, 0);
const wranglerCriticalS = wrangler?.steps.reduce((sum, step) => sum + step.slowest_s, 0) ?? 0;
const heavy = invocations.filter((invocation) => invocation.step !== "ingest");
const heaviest = slowestBy(heavy, (invocation) => invocation.peakBytes);
const firstBase = invocations[0]?.baseBytes ?? 0;
const retained = Math.max(0, ...invocations.map((invocation) => invocation.baseBytes - firstBase));
const isolateWorst = heaviest.peakBytes + lightBatch.peakBytes + retained;

console.log(`\n## bench:scene — NDVI of a ${sceneSize.width} x ${sceneSize.height} UInt16 pair\n`);
console.log("| measure | value |\n| --- | --- |");
if (wrangler) {
	console.log(`| upload, two bands in parts (wrangler dev) | ${wrangler.uploadSeconds.toFixed(1)} s |`);
	console.log(`| job wall time, submit to succeeded (wrangler dev) | ${wrangler.wallSeconds.toFixed(1)} s |`);
	for (const step of wrangler.steps) {
		console.log(
			`| ${step.step} (wrangler dev) | ${step.invocations} invocation(s), ${step.span_s.toFixed(1)} s first to last event, ${step.summed_s.toFixed(1)} s summed, slowest ${step.slowest_s.toFixed(2)} s |`,
		);
	}
	console.log(
		`| critical path on wrangler dev: the slowest invocation of each step, summed | ${wranglerCriticalS.toFixed(1)} s |`,
	);
	console.log(`| result.tif | ${mib(wrangler.resultBytes)} |`);
}
for (const step of steps) {
	console.log(
		`| ${step.step} (Node) | ${step.count} invocation(s), ${seconds(step.cpuMs)} CPU summed; slowest ${seconds(step.slowestCpu.cpuMs)} CPU (${step.slowestCpu.detail || "the one"}), ${seconds(step.slowestWall.wallMs)} wall; peak ${mib(step.peak.peakBytes)} |`,
	);
}
console.log(`| CPU summed over all invocations (Node) | ${seconds(cpuMs)} |`);
console.log(
	`| blocks decoded by compute / blocks the files hold | ${decodes.decoded} / ${decodes.held} = ${(decodes.decoded / decodes.held).toFixed(2)} (the most decodes of one block: ${decodes.most}) |`,
);
console.log(
	`| critical path (Node): the slowest invocation of each step, summed | ${seconds(criticalCpuMs)} CPU, ${seconds(criticalWallMs)} wall |`,
);
console.log(
	`| the same, each step in waves of ${inFlight} (WINDOWS_IN_FLIGHT_PER_JOB) x its slowest | ${seconds(wavesCpuMs)} CPU |`,
);
console.log(
	`| CPU of the R2 and D1 stand-ins' calls, left out above (R2's and D1's work, not the isolate's) | ${seconds(storageMs)} |`,
);
console.log(
	`| memory: the largest heavy invocation (one message per isolate at a time) | ${mib(heaviest.peakBytes)} (${heaviest.step} ${heaviest.detail}) |`,
);
console.log(
	`| memory: a light batch settled at once (${lightBatch.detail} ingest messages) | ${mib(lightBatch.peakBytes)} |`,
);
console.log(`| memory: held between invocations, growth over the run (post-GC level) | ${mib(retained)} |`);
console.log(
	`| memory: an isolate's worst case measured, the three above together | ${mib(isolateWorst)} of 122 MiB (128 MB); code, modules and runtime not included (about 10 MiB, src/isolate-memory.ts) |`,
);
if (gdal) {
	console.log(
		`| gdal_calc.py, one thread | ${gdal.cpuSeconds.toFixed(2)} s CPU, ${gdal.wallSeconds.toFixed(2)} s wall |`,
	);
	console.log(
		`| critical path CPU / gdal_calc CPU | ${(criticalCpuMs / 1000 / gdal.cpuSeconds).toFixed(3)} (goal ≤ 0.1) |`,
	);
	console.log(`| summed CPU / gdal_calc CPU | ${(cpuMs / 1000 / gdal.cpuSeconds).toFixed(2)} (goal ≤ 0.6) |`);
	console.log(
		`| summed CPU with the stand-ins' calls counted / gdal_calc CPU | ${((cpuMs + storageMs) / 1000 / gdal.cpuSeconds).toFixed(2)} |`,
	);
} else {
	console.log("| gdal_calc.py | not installed |");
}
console.log(
	`\nmemory is heapUsed + external (ArrayBuffers, Wasm memories), the largest value seen at a 2 ms timer or around any R2/D1 call, above the level left by full GCs (until ArrayBuffers and Wasm memories are released) just before the invocation: garbage not yet collected counts (errs high), a peak inside a synchronous stretch between two samples is missed (errs low), and what the process held before (code, compiled modules) is not counted.`,
);
const slowest = slowestBy(invocations, (invocation) => invocation.cpuMs);
console.log(
	`goals: an isolate's worst case under 128 MB: ${isolateWorst < WORKER_MEMORY_LIMIT ? "yes" : "NO"}; compute's peak (garbage included) under its ${mib(STRIP_BUDGET_BYTES)} budget: ${(steps.find((step) => step.step === "compute")?.peak.peakBytes ?? 0) <= STRIP_BUDGET_BYTES ? "yes" : "NO"}; every store invocation's peak under STORE_BUDGET_BYTES, ${mib(STORE_BUDGET_BYTES)} (validate's estimate of the live set: ${mib(storeWorkingSetBytes(sceneSize.width, sceneSize.height))}): ${steps.filter((step) => step.step.startsWith("store")).every((step) => step.peak.peakBytes <= STORE_BUDGET_BYTES) ? "yes" : "NO"}; slowest under 30 s CPU: ${slowest.cpuMs < CPU_LIMIT_MS ? "yes" : "NO"}${gdal ? `; critical path CPU at most 1/10 of gdal_calc's: ${criticalCpuMs / 1000 <= gdal.cpuSeconds / 10 ? "yes" : "NO"}; summed CPU at most 0.6x gdal_calc: ${cpuMs / 1000 <= 0.6 * gdal.cpuSeconds ? "yes" : "NO"}` : ""}`,
);
mkdirSync(CACHE, { recursive: true });
writeFileSync(
	join(CACHE, process.argv.includes("--stripped") ? "report-strips.json" : "report.json"),
	JSON.stringify({ files, wrangler, steps, invocations, lightBatch, retained, gdal, decodes }, null, 2),
);
