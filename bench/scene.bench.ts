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
 *    wrangler.toml (bench/node-pipeline.ts, over the bindings of bench/node-bindings.ts). For
 *    each invocation: CPU time (process.cpuUsage, all threads) less the R2 and D1 stand-ins'
 *    calls (R2 and D1 calls are subrequests, outside a Worker's CPU time), wall time, and peak
 *    memory (see `measure` there).
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
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { GeoTIFFImage } from "geotiff";
import { freePort, startDevServer, stopChildrenOnExit, stopGroup, waitForHealth } from "../scripts/dev-server";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import { getJob } from "../src/db/jobs";
import { compileFormula } from "../src/indices/formula";
import { type JobPlan, jobPlan } from "../src/pipeline/plan";
import type { StageName } from "../src/pipeline/stages";
import { storeWorkingSetBytes } from "../src/pipeline/store/budget";
import { RangedSource } from "../src/raster/ranged-source";
import {
	CPU_LIMIT_MS,
	ISOLATE_MEMORY_BYTES,
	mib,
	SCENE_CACHE,
	scenePair,
	seconds,
	slowestBy,
	startNodePipeline,
	vars,
} from "./node-pipeline";

const STRIP_BUDGET_BYTES = Number(vars.STRIP_BUDGET_BYTES);
const STORE_BUDGET_BYTES = Number(vars.STORE_BUDGET_BYTES);

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
 * Counts every block the window reader decodes, each asked for once per window: from a view of
 * its stored bytes (by file and offset), or through geotiff.js (by file, block and sample).
 * Files are told apart by their size.
 */
function countBlockDecodes(): { decodes: number; blocks: Map<string, number>; stop: () => void } {
	const originalBlock = GeoTIFFImage.prototype.getTileOrStrip;
	const originalBytes = RangedSource.prototype.bytes;
	const counts = {
		decodes: 0,
		blocks: new Map<string, number>(),
		stop: () => {
			GeoTIFFImage.prototype.getTileOrStrip = originalBlock;
			RangedSource.prototype.bytes = originalBytes;
		},
	};
	const count = (key: string) => {
		counts.decodes++;
		counts.blocks.set(key, (counts.blocks.get(key) ?? 0) + 1);
	};
	GeoTIFFImage.prototype.getTileOrStrip = function (this: GeoTIFFImage, x, y, sample, ...rest) {
		const file = (this as unknown as { source: { fileSize: number } }).source.fileSize;
		count(`${file}:${x}:${y}:${sample}`);
		return originalBlock.call(this, x, y, sample, ...rest);
	} as typeof originalBlock;
	RangedSource.prototype.bytes = function (this: RangedSource, slice) {
		count(`${this.fileSize}@${slice.offset}`);
		return originalBytes.call(this, slice);
	};
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
	const files = scenePair(process.argv.slice(2).filter((arg) => !arg.startsWith("--")));
	return process.argv.includes("--stripped") ? { red: stripped(files.red), nir: stripped(files.nir) } : files;
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

const LIGHT_BATCH_SIZE = 10;

async function runUnderNode(files: { red: string; nir: string }) {
	const pipeline = await startNodePipeline("bench-scene");
	try {
		const { env, queues } = pipeline;
		for (const [name, path] of Object.entries(files)) await pipeline.upload(name, path);
		const requested = {
			red: { upload_id: "upl_red", band: 1, scale: 1, offset: 0 },
			nir: { upload_id: "upl_nir", band: 1, scale: 1, offset: 0 },
		};
		const recordJob = (id: string) =>
			pipeline.admit({
				id,
				process: "index",
				indexId: "NDVI",
				formula: compileFormula({ index: "ndvi", inputs: requested }),
				request: { index: "ndvi", inputs: requested },
			});
		const message = await recordJob("job_benchscene0000000000000");
		const invoke = (stage: StageName, body: Record<string, unknown>, detail = "") =>
			pipeline.invoke(stage, [body], stepOf(stage, body), detail);

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
		const lightBatch = await pipeline.invoke("ingest", others, "ingest", `a batch of ${LIGHT_BATCH_SIZE}`);
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
		pipeline.close();
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
const threadCpuMs = invocations.reduce((sum, invocation) => sum + invocation.threadCpuMs, 0);
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
	`| the same, each invocation's thread alone (no collector or compiler threads) | ${seconds(threadCpuMs)}; compute ${seconds(invocations.filter((invocation) => invocation.step === "compute").reduce((sum, invocation) => sum + invocation.threadCpuMs, 0))} |`,
);
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
	`| memory: an isolate's worst case measured, the three above together | ${mib(isolateWorst)} of ${mib(ISOLATE_MEMORY_BYTES)} (128 MB); code, modules and runtime not included (about 10 MiB, src/isolate-memory.ts) |`,
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
		`| summed CPU, each invocation's thread alone / gdal_calc CPU | ${(threadCpuMs / 1000 / gdal.cpuSeconds).toFixed(2)} |`,
	);
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
	`goals: an isolate's worst case under 128 MB: ${isolateWorst < ISOLATE_MEMORY_BYTES ? "yes" : "NO"}; compute's peak (garbage included) under its ${mib(STRIP_BUDGET_BYTES)} budget: ${(steps.find((step) => step.step === "compute")?.peak.peakBytes ?? 0) <= STRIP_BUDGET_BYTES ? "yes" : "NO"}; every store invocation's peak under STORE_BUDGET_BYTES, ${mib(STORE_BUDGET_BYTES)} (validate's estimate of the live set: ${mib(storeWorkingSetBytes(sceneSize.width, sceneSize.height))}): ${steps.filter((step) => step.step.startsWith("store")).every((step) => step.peak.peakBytes <= STORE_BUDGET_BYTES) ? "yes" : "NO"}; slowest under 30 s CPU: ${slowest.cpuMs < CPU_LIMIT_MS ? "yes" : "NO"}${gdal ? `; critical path CPU at most 1/10 of gdal_calc's: ${criticalCpuMs / 1000 <= gdal.cpuSeconds / 10 ? "yes" : "NO"}; summed CPU at most 0.6x gdal_calc: ${cpuMs / 1000 <= 0.6 * gdal.cpuSeconds ? "yes" : "NO"}` : ""}`,
);
mkdirSync(SCENE_CACHE, { recursive: true });
writeFileSync(
	join(SCENE_CACHE, process.argv.includes("--stripped") ? "report-strips.json" : "report.json"),
	JSON.stringify({ files, wrangler, steps, invocations, lightBatch, retained, gdal, decodes }, null, 2),
);
