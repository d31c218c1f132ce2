/**
 * bench:scene — a whole Sentinel-2 scene through the pipeline. Generates (once, cached in
 * artifacts/bench-scene/) or takes a 10980 x 10980 UInt16 red/NIR pair of tiled Deflate COGs,
 * then:
 *
 * 1. runs the full NDVI job on local `wrangler dev` (uploading both bands in parts), and reports
 *    the wall time, each stage's time from the job's events, and the compute invocations;
 * 2. runs the same stage handlers again under Node, one invocation at a time with the same
 *    budgets (Node bindings in bench/node-bindings.ts), measuring each invocation's CPU time
 *    (process.cpuUsage, all threads) and peak memory (process.memoryUsage sampled every 2 ms,
 *    above the level after a full GC, garbage not yet collected included), since local workerd
 *    reports neither and does not enforce the 128 MB limit. The R2 stand-in's file system calls
 *    are R2's work, not the isolate's (R2 calls are subrequests, outside a Worker's CPU time):
 *    their CPU is reported apart and left out of each invocation's;
 * 3. where GDAL is installed, times gdal_calc.py's NDVI on the same pair with one thread and
 *    prints the ratio.
 *
 * Under Node it also counts the blocks every compute invocation decodes, against the blocks the
 * files hold: a plan that decodes each block once shows 1.00.
 *
 * Usage: npm run bench:scene [-- [--stripped] [--node-only] [red.tif nir.tif]].
 *   --stripped   the same pair re-written in GDAL's default layout, full-width strips (with
 *                `gdal_translate -co COMPRESS=DEFLATE -co PREDICTOR=2`, once, cached beside it)
 *   --node-only  skips the job on wrangler dev (step 1): the CPU and memory figures only
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
import { parseArgs } from "node:util";
import { GeoTIFFImage } from "geotiff";
import { freePort, startDevServer, stopChildrenOnExit, stopGroup, waitForHealth } from "../scripts/dev-server";
import { wranglerVars } from "../scripts/wrangler-vars";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import { defaultQuotas } from "../src/access/quotas";
import { ensureTenant } from "../src/db/access";
import { admitJob, getJob, insertUpload, saveJobInputs } from "../src/db/queries";
import { compileFormula } from "../src/indices/formula";
import { computeStage } from "../src/pipeline/compute/handler";
import { type JobPlan, windowBytes } from "../src/pipeline/plan";
import { publishStage } from "../src/pipeline/publish/handler";
import type { StageHandler } from "../src/pipeline/stage";
import { storeStage, storeWorkingSetBytes } from "../src/pipeline/store/handler";
import { validateStage } from "../src/pipeline/validate/handler";
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

const args = parseArgs({
	allowPositionals: true,
	options: { stripped: { type: "boolean", default: false }, "node-only": { type: "boolean", default: false } },
});

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

function inputs(): { red: string; nir: string } {
	const [red, nir] = args.positionals;
	let files: { red: string; nir: string };
	if (red && nir) {
		files = { red: resolve(red), nir: resolve(nir) };
	} else {
		files = { red: join(CACHE, "red.tif"), nir: join(CACHE, "nir.tif") };
		if (!existsSync(files.red) || !existsSync(files.nir)) {
			mkdirSync(CACHE, { recursive: true });
			console.log("writing the 10980 x 10980 pair with GDAL (once; cached in artifacts/bench-scene/) …");
			execFileSync("/usr/bin/python3", [join(import.meta.dirname, "scene-files.py"), CACHE], { stdio: "inherit" });
		}
	}
	return args.values.stripped ? { red: stripped(files.red), nir: stripped(files.nir) } : files;
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
		const stages = ["ingest", "validate", "compute", "store", "publish"].map((stage) => {
			const mine = events.filter((event) => event.stage === stage);
			const first = Math.min(...mine.map((event) => Date.parse(event.at)));
			const last = Math.max(...mine.map((event) => Date.parse(event.at)));
			const succeeded = mine.filter((event) => event.status === "succeeded");
			return {
				stage,
				invocations: succeeded.length,
				span_s: (last - first) / 1000,
				summed_s: succeeded.reduce((sum, event) => sum + (event.duration_ms ?? 0), 0) / 1000,
				slowest_s: Math.max(...succeeded.map((event) => event.duration_ms ?? 0)) / 1000,
			};
		});
		const result = await call(`${api}/v1/jobs/${id}/artifacts/result.tif`, { method: "HEAD" });
		return { job: id, uploadSeconds, wallSeconds, stages, resultBytes: Number(result.headers.get("content-length")) };
	} finally {
		await stopGroup(dev.pid);
	}
}

// ---------------------------------------------------------------------------------------------
// 2. The same invocations under Node, measured one at a time

interface Invocation {
	stage: string;
	detail: string;
	/** CPU of the stage's own code: the invocation's, less the R2 stand-in's file system calls. */
	cpuMs: number;
	/** CPU of the R2 stand-in's file system calls during the invocation. */
	storageCpuMs: number;
	peakBytes: number;
}

declare const gc: (() => void) | undefined;

/** The garbage collector, which `node --expose-gc` exposes (npm run bench:scene does). */
function collector(): () => void {
	if (typeof gc !== "function") throw new Error("run with node --expose-gc (npm run bench:scene does)");
	return gc;
}

/** Bytes in use: the JavaScript heap and what lies outside it (ArrayBuffers, Wasm memory). */
function usedBytes(): number {
	const memory = process.memoryUsage();
	return memory.heapUsed + memory.external;
}

async function measure(
	stage: string,
	detail: string,
	storage: StorageCpu,
	run: () => Promise<unknown>,
): Promise<Invocation> {
	collector()();
	const base = usedBytes();
	let peak = base;
	const sampler = setInterval(() => {
		peak = Math.max(peak, usedBytes());
	}, 2);
	const cpu = process.cpuUsage();
	const storageBefore = storage.ms;
	try {
		await run();
	} finally {
		clearInterval(sampler);
	}
	const cpuMs = cpuMsSince(cpu);
	peak = Math.max(peak, usedBytes());
	const storageCpuMs = storage.ms - storageBefore;
	return {
		stage,
		detail,
		cpuMs: cpuMs - storageCpuMs,
		storageCpuMs,
		peakBytes: peak - base,
	};
}

/**
 * The peak of what is live (after a full GC) at every R2 call of `run`: the invocation's working
 * set without its garbage. Calls are where buffers are fullest (a tile row being stored, a part
 * being uploaded), and the stand-in's calls are synchronous, so a timer would rarely fire there.
 */
async function livePeakBytes(storage: StorageCpu, run: () => Promise<unknown>): Promise<number> {
	const collect = collector();
	const collectAndMeasure = () => {
		collect();
		return usedBytes();
	};
	const base = collectAndMeasure();
	let peak = base;
	storage.beforeCall = () => {
		peak = Math.max(peak, collectAndMeasure());
	};
	try {
		await run();
	} finally {
		storage.beforeCall = null;
	}
	return peak - base;
}

async function runUnderNode(files: { red: string; nir: string }): Promise<{
	invocations: Invocation[];
	storeLivePeakBytes: number;
	computeLivePeakBytes: number;
	plan: JobPlan;
	decodes: { blocks: number; decoded: number; distinct: number; most: number };
}> {
	const work = mkdtempSync(join(tmpdir(), "bench-scene-"));
	const storage = new StorageCpu();
	try {
		const queues = {
			INGEST_QUEUE: collectingQueue(),
			VALIDATE_QUEUE: collectingQueue(),
			COMPUTE_QUEUE: collectingQueue(),
			STORE_QUEUE: collectingQueue(),
			PUBLISH_QUEUE: collectingQueue(),
		};
		const env = {
			DB: nodeD1(join(ROOT, "migrations")),
			BUCKET: directoryR2(work, storage),
			...queues,
			...vars,
		} as unknown as Env;
		const inputs = Object.entries(files).map(([name, path]) => {
			const objectKey = `uploads/${name}.tif`;
			mkdirSync(dirname(join(work, objectKey)), { recursive: true });
			symlinkSync(path, join(work, objectKey));
			return { name, uploadId: `upl_${name}`, href: null, band: 1, objectKey, bytes: statSync(path).size, etag: null };
		});
		const now = new Date().toISOString();
		const tenant = await ensureTenant(env.DB, {
			id: "ten_bench",
			name: "bench",
			quotas: defaultQuotas,
			createdAt: now,
		});
		// job_inputs refers to uploads: the rows the API would have written.
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
		/** Records an NDVI job on the pair, as POST /v1/jobs would; the bench's tenant has no other in the way. */
		const recordJob = async (id: string) => {
			const admission = await admitJob(
				env.DB,
				{
					id,
					tenantId: tenant.id,
					indexId: "NDVI",
					formula: compileFormula({ index: "ndvi", inputs: requested }),
					request: { index: "ndvi", inputs: requested },
					traceId: TRACE_ID,
				},
				Number.MAX_SAFE_INTEGER,
				null,
			);
			if (!("job" in admission)) throw new Error(`the bench job was refused (${admission.refused})`);
			await saveJobInputs(env.DB, id, inputs);
		};
		const jobId = "job_benchscene0000000000000";
		await recordJob(jobId);
		const invoke = async <M extends { job_id: string; trace_id: string }>(
			stage: string,
			handler: StageHandler<M>,
			message: M,
			detail = "",
		) => {
			const job = await getJob(env.DB, jobId);
			if (!job) throw new Error("the bench job is gone");
			return measure(stage, detail, storage, async () => {
				const outcome = await handler.handle(message, { env, job, traceId: TRACE_ID, attempt: 1 });
				if (outcome.kind !== "done") throw new Error(`${stage} failed: ${outcome.error.message}`);
			});
		};
		const message = { job_id: jobId, trace_id: TRACE_ID };
		const measured = [await invoke("validate", validateStage, message)];
		const counts = countBlockDecodes();
		for (const body of queues.COMPUTE_QUEUE.sent as { strip_index: number }[]) {
			measured.push(
				await invoke(
					"compute",
					computeStage,
					{ ...message, strip_index: body.strip_index },
					`strip ${body.strip_index}`,
				),
			);
			process.stdout.write(".");
		}
		counts.stop();
		process.stdout.write("\n");
		// The first window again, in a job of its own (a window is computed once per job), for its
		// live working set without garbage.
		const liveJobId = "job_benchscenelive000000000";
		await recordJob(liveJobId);
		const liveMessage = { job_id: liveJobId, trace_id: TRACE_ID };
		const liveJob = async () => {
			const job = await getJob(env.DB, liveJobId);
			if (!job) throw new Error("the bench's second job is gone");
			return job;
		};
		await validateStage.handle(liveMessage, { env, job: await liveJob(), traceId: TRACE_ID, attempt: 1 });
		const computeLivePeakBytes = await livePeakBytes(storage, async () =>
			computeStage.handle(
				{ ...liveMessage, strip_index: 0 },
				{ env, job: await liveJob(), traceId: TRACE_ID, attempt: 1 },
			),
		);
		measured.push(await invoke("store", storeStage, message));
		// Store again (it is idempotent), for its live working set, before publish deletes its inputs.
		const job = await getJob(env.DB, jobId);
		if (!job?.plan) throw new Error("the bench job has no plan");
		const storeLivePeakBytes = await livePeakBytes(storage, () =>
			storeStage.handle(message, { env, job, traceId: TRACE_ID, attempt: 1 }),
		);
		measured.push(await invoke("publish", publishStage, message));
		const decodes = {
			blocks: blocksIn(job.plan),
			decoded: counts.decodes,
			distinct: counts.blocks.size,
			most: Math.max(...counts.blocks.values()),
		};
		return { invocations: measured, storeLivePeakBytes, computeLivePeakBytes, plan: job.plan, decodes };
	} finally {
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
let wrangler: Awaited<ReturnType<typeof runOnWrangler>> | null = null;
if (!args.values["node-only"]) {
	console.log("running the NDVI job on wrangler dev …");
	wrangler = await runOnWrangler(files);
}
console.log("running the same invocations under Node, one at a time …");
const { invocations, storeLivePeakBytes, computeLivePeakBytes, plan, decodes } = await runUnderNode(files);
console.log("timing gdal_calc.py (one thread) …");
const gdal = gdalCalc(files);

const compute = invocations.filter((invocation) => invocation.stage === "compute");
const cpuSeconds = invocations.reduce((sum, invocation) => sum + invocation.cpuMs, 0) / 1000;
const slowest = invocations.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a));
const peakCompute = compute.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
const peakAny = invocations.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
const storageSeconds = invocations.reduce((sum, invocation) => sum + invocation.storageCpuMs, 0) / 1000;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

const [red] = plan.inputs;
console.log(`\n## bench:scene — NDVI of a ${plan.width} x ${plan.height} ${red?.data_type ?? ""} pair\n`);
console.log(`| measure | value |\n| --- | --- |`);
console.log(
	`| inputs' blocks | ${plan.inputs.map((input) => `${input.name} ${input.block_width} x ${input.block_height}`).join(", ")} |`,
);
if (wrangler) {
	console.log(`| upload, two bands in parts (wrangler dev) | ${wrangler.uploadSeconds.toFixed(1)} s |`);
	console.log(`| job wall time, submit to succeeded (wrangler dev) | ${wrangler.wallSeconds.toFixed(1)} s |`);
	for (const stage of wrangler.stages) {
		console.log(
			`| ${stage.stage} (wrangler dev) | ${stage.invocations} invocation(s), ${stage.span_s.toFixed(1)} s from first to last event, ${stage.summed_s.toFixed(1)} s summed, slowest ${stage.slowest_s.toFixed(1)} s |`,
		);
	}
	console.log(`| result.tif | ${mib(wrangler.resultBytes)} |`);
}
console.log(
	`| windows (plan) | ${plan.strips.length} of ${plan.rows_per_strip} x ${plan.cols_per_strip}${plan.chunk_columns ? `, evaluated ${plan.chunk_columns} columns at a time` : ""} |`,
);
console.log(
	`| blocks decoded (Node) | ${decodes.decoded} for the files' ${decodes.blocks} (${(decodes.decoded / decodes.blocks).toFixed(2)} per block; ${decodes.distinct} distinct, each at most ${decodes.most} times) |`,
);
console.log(`| compute invocations | ${compute.length} |`);
console.log(
	`| CPU summed over all invocations (Node) | ${cpuSeconds.toFixed(1)} s (compute ${(compute.reduce((s, c) => s + c.cpuMs, 0) / 1000).toFixed(1)} s) |`,
);
console.log(
	`| CPU of the R2 stand-in's file system calls, left out above (R2's work, not the isolate's) | ${storageSeconds.toFixed(1)} s |`,
);
console.log(
	`| slowest invocation CPU (Node) | ${(slowest.cpuMs / 1000).toFixed(1)} s (${slowest.stage} ${slowest.detail}) |`,
);
console.log(`| peak memory of one compute invocation (Node) | ${mib(peakCompute.peakBytes)} (${peakCompute.detail}) |`);
console.log(
	`| compute's live peak (Node, the first window again, full GC before every R2 call) | ${mib(computeLivePeakBytes)}; plan's estimate ${mib(windowBytes(plan.rows_per_strip, plan.cols_per_strip, plan, plan.inputs, plan.chunk_columns))}, budget ${mib(STRIP_BUDGET_BYTES)} |`,
);
console.log(
	`| peak memory of any invocation (Node) | ${mib(peakAny.peakBytes)} (${peakAny.stage} ${peakAny.detail}) |`,
);
console.log(
	`| store's live peak (Node, a second run, full GC before every R2 call) | ${mib(storeLivePeakBytes)}; validate's estimate ${mib(storeWorkingSetBytes(plan.width, plan.height))}, budget ${mib(STORE_BUDGET_BYTES)} |`,
);
if (gdal) {
	console.log(
		`| gdal_calc.py, one thread | ${gdal.cpuSeconds.toFixed(1)} s CPU, ${gdal.wallSeconds.toFixed(1)} s wall |`,
	);
	console.log(`| summed CPU / gdal_calc CPU | ${(cpuSeconds / gdal.cpuSeconds).toFixed(2)} (goal ≤ 2) |`);
	console.log(
		`| the same with the R2 stand-in's file system calls counted | ${((cpuSeconds + storageSeconds) / gdal.cpuSeconds).toFixed(2)} |`,
	);
} else {
	console.log("| gdal_calc.py | not installed |");
}
console.log(
	`\ngoals: every invocation under 128 MB: ${peakAny.peakBytes < WORKER_MEMORY_LIMIT ? "yes" : "NO"}; compute under its ${mib(STRIP_BUDGET_BYTES)} budget: ${peakCompute.peakBytes <= STRIP_BUDGET_BYTES ? "yes" : `NO with garbage, ${computeLivePeakBytes <= STRIP_BUDGET_BYTES ? "yes" : "NO"} live`}; store's live set under its ${mib(STORE_BUDGET_BYTES)} budget: ${storeLivePeakBytes <= STORE_BUDGET_BYTES ? "yes" : "NO"}; slowest under 30 s CPU: ${slowest.cpuMs < CPU_LIMIT_MS ? "yes" : "NO"}${gdal ? `; summed CPU at most 2x gdal_calc: ${cpuSeconds <= 2 * gdal.cpuSeconds ? "yes" : "NO"}` : ""}`,
);
mkdirSync(CACHE, { recursive: true });
writeFileSync(
	join(CACHE, args.values.stripped ? "report-strips.json" : "report.json"),
	JSON.stringify(
		{
			files,
			wrangler,
			invocations,
			storeLivePeakBytes,
			computeLivePeakBytes,
			plan: { ...plan, strips: plan.strips.length, geo: undefined },
			decodes,
			gdal,
		},
		null,
		2,
	),
);
