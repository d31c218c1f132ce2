/**
 * End-to-end check of the README as a newcomer meets it: starts `npm run dev` on a free port,
 * runs the "Walk-through with curl" bash blocks as written (only the API URL is swapped), and
 * verifies what they downloaded against the GDAL/numpy values in test/fixtures/manifest.json,
 * plus `gdalinfo` where GDAL is installed; the NDVI job's and the zonal job's item.json are
 * validated with stac-node-validator against the offline schemas (scripts/stac-validate.ts) and
 * their assets fetched at their hrefs. Over plain HTTP it also runs an NDWI job and error
 * paths (a non-TIFF upload, no key, and over a raw socket a Content-Length larger than the
 * body), runs `npm run demo` (the generated partner client), loads the docs page in headless
 * Chromium, and runs a page from another origin that calls the API through CORS. It owns the
 * dev server and the temp directory it creates, and always stops the server's whole process
 * tree, also on failure or a signal.
 *
 * Needs curl, jq and chromium (Debian: apt-get install -y jq chromium). Usage: npm run test:e2e
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";

import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fromArrayBuffer } from "geotiff";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import { stageNames } from "../src/pipeline/stages";
import type { JobStatistics as Statistics } from "../src/processes/index/statistics";
import type { ManifestCase } from "../test/fixtures/manifest";
import { checkBrowserClient } from "./browser-client-check";
import {
	adoptGroup,
	type DevServer,
	freePort,
	startDevServer,
	stopChildrenOnExit,
	stopGroup,
	waitForHealth,
} from "./dev-server";
import { checkDocsPage } from "./docs-browser-check";
import { checkJobPage, deliverySpans } from "./job-page-check";
import { validateStacItem } from "./stac-validate";

const ROOT = join(import.meta.dirname, "..");
const FIXTURES = join(ROOT, "test", "fixtures");
const SAMPLES = join(ROOT, "samples");
const README_API_LINE = "API=http://localhost:8787";
const WALKTHROUGH_TIMEOUT_MS = 240_000;
const JOB_TIMEOUT_MS = 60_000;
const TOLERANCE = 1e-6;
/** The development key `npm run dev` seeds, as the README walk-through uses it. */
const DEV_AUTH = { authorization: `Bearer ${DEVELOPMENT_API_KEY}` };

interface Job {
	id: string;
	status: string;
	stage: string | null;
	error: unknown;
	trace_id: string;
}

interface GdalInfo {
	size: [number, number];
	geoTransform?: number[];
	coordinateSystem?: { wkt: string };
	bands: { type: string; noDataValue?: number | string }[];
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as {
	cases: Record<string, ManifestCase | undefined>;
};

let passed = 0;
let failed = 0;

function check(label: string, ok: boolean, detail = ""): void {
	if (ok) passed++;
	else failed++;
	console.log(`${ok ? "ok  " : "FAIL"} ${label}${ok || detail === "" ? "" : `: ${detail}`}`);
}

function seconds(since: number): string {
	return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

function manifestCase(name: string): ManifestCase {
	const spec = manifest.cases[name];
	if (!spec) throw new Error(`test/fixtures/manifest.json has no case ${name}`);
	return spec;
}

const workDir = mkdtempSync(join(tmpdir(), "eo-edge-e2e-"));
stopChildrenOnExit(() => rmSync(workDir, { recursive: true, force: true }));

function requireTool(tool: string, install: string): void {
	if (spawnSync(tool, ["--version"]).error) {
		throw new Error(`${tool} is not installed; the README walk-through needs it (Debian: ${install})`);
	}
}

/** The README's bash blocks under "## Walk-through with curl", in order, pointed at `api`. */
function walkthroughScript(api: string): string {
	const readme = readFileSync(join(ROOT, "README.md"), "utf8");
	const section = readme.split(/^## /m).find((part) => part.startsWith("Walk-through with curl\n"));
	if (section === undefined) throw new Error('README.md changed: no "## Walk-through with curl" section');
	const blocks = [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
	if (blocks.length !== 2) throw new Error("README.md changed: the walk-through does not have two ```bash blocks");
	const lines = blocks.join("").split("\n");
	const at = lines.indexOf(README_API_LINE);
	if (at < 0) throw new Error(`README.md changed: the walk-through has no line ${README_API_LINE}`);
	lines[at] = `API=${api}`;
	// The blocks keep the job ids in $JOB, $EVI and $SAVI; the checks below need them.
	return `${lines.join("\n").trimEnd()}\necho "E2E_JOB=$JOB E2E_EVI=$EVI E2E_SAVI=$SAVI"\n`;
}

async function runBash(
	script: string,
	cwd: string,
	env: Record<string, string> = {},
): Promise<{ status: number | null; output: string }> {
	const child = spawn("bash", ["-euo", "pipefail", script], {
		cwd,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, ...env },
	});
	const pid = child.pid;
	if (pid === undefined) throw new Error("could not start bash");
	adoptGroup(pid);
	let output = "";
	child.stdout.on("data", (chunk: Buffer) => {
		output += chunk.toString();
	});
	child.stderr.on("data", (chunk: Buffer) => {
		output += chunk.toString();
	});
	let timedOut = false;
	const timer = setTimeout(() => {
		timedOut = true;
		process.kill(-pid, "SIGKILL");
	}, WALKTHROUGH_TIMEOUT_MS);
	try {
		const [status] = (await once(child, "close")) as [number | null];
		if (timedOut) throw new Error(`the walk-through did not finish in ${WALKTHROUGH_TIMEOUT_MS / 1000} s:\n${output}`);
		return { status, output };
	} finally {
		clearTimeout(timer);
		await stopGroup(pid);
	}
}

async function getJson<T>(url: string): Promise<T> {
	const response = await fetch(url, { headers: DEV_AUTH });
	if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
	return (await response.json()) as T;
}

function closeEnough(actual: number | null, expected: number, tolerance = TOLERANCE): boolean {
	return actual !== null && Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected));
}

/** A result GeoTIFF against the case's expected float32 array (little-endian, row-major). */
async function checkPixels(label: string, tif: ArrayBuffer, caseName: string): Promise<void> {
	const spec = manifestCase(caseName);
	const image = await (await fromArrayBuffer(tif)).getImage();
	const [height, width] = spec.shape;
	check(
		`${label}: ${width}x${height}, one float32 band`,
		image.getWidth() === width &&
			image.getHeight() === height &&
			image.getSamplesPerPixel() === 1 &&
			image.getSampleFormat() === 3 &&
			image.getBitsPerSample() === 32,
	);
	check(`${label}: nodata is NaN`, Number.isNaN(image.getGDALNoData()), `${image.getGDALNoData()}`);

	const [pixels] = await image.readRasters();
	const expected = new DataView(new Uint8Array(readFileSync(join(FIXTURES, spec.expected))).buffer);
	let mismatches = 0;
	let first = "";
	for (let i = 0; i < width * height; i++) {
		const want = expected.getFloat32(i * 4, true);
		const got = pixels?.[i] ?? Number.NaN;
		const same = Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= TOLERANCE;
		if (!same && mismatches++ === 0) first = `pixel ${i}: got ${got}, want ${want}`;
	}
	check(
		`${label}: every pixel within ${TOLERANCE} of ${spec.expected}, same NaN mask`,
		pixels?.length === width * height && mismatches === 0,
		`${mismatches} mismatches, first ${first}`,
	);
}

async function checkStatistics(label: string, api: string, jobId: string, caseName: string): Promise<void> {
	const spec = manifestCase(caseName);
	const want = spec.stats;
	const tolerance = spec.tolerance ?? TOLERANCE;
	const stats = await getJson<Statistics>(`${api}/v1/jobs/${jobId}/artifacts/stats.json`);
	check(
		`${label}: stats count ${want.count}, nodata_count ${want.nodata_count}`,
		stats.count === want.count && stats.nodata_count === want.nodata_count,
		`${stats.count}, ${stats.nodata_count}`,
	);
	const moments = (["min", "max", "mean", "std"] as const).filter(
		(key) => !closeEnough(stats[key], want[key], tolerance),
	);
	check(
		`${label}: stats min, max, mean, std within ${tolerance} relative`,
		moments.length === 0,
		moments.map((key) => `${key} ${stats[key]} vs ${want[key]}`).join(", "),
	);
	const binned = stats.histogram.counts.reduce((sum, count) => sum + count, 0);
	check(
		`${label}: the histogram counts every valid pixel once`,
		binned + stats.histogram.below_range + stats.histogram.above_range === want.count,
		`${binned} + ${stats.histogram.below_range} + ${stats.histogram.above_range} vs ${want.count}`,
	);
	// Only a histogram over the manifest's range, [-1, 1], compares bin for bin; and only bit for
	// bit, since a value within a case's tolerance of a bin edge may fall on either side of it.
	const histogram = want["histogram_range_-1_1_20_bins"];
	if (!histogram || stats.histogram.range_source !== "request" || spec.tolerance !== undefined) return;
	const counts = histogram.counts;
	check(
		`${label}: histogram counts`,
		stats.histogram.counts.length === counts.length && stats.histogram.counts.every((n, i) => n === counts[i]),
		`${stats.histogram.counts} vs ${counts}`,
	);
}

async function checkWalkthrough(api: string): Promise<string | undefined> {
	console.log("\n# README walk-through (NDVI, curl + jq)");
	symlinkSync(SAMPLES, join(workDir, "samples"));
	const script = join(workDir, "walkthrough.sh");
	writeFileSync(script, walkthroughScript(api));
	const started = performance.now();
	const run = await runBash(script, workDir);
	console.log(run.output.trimEnd().replace(/^/gm, "  | "));
	check(`the bash block exits 0 (${seconds(started)})`, run.status === 0, `exit ${run.status}`);
	const [, jobId, eviId, saviId] = /^E2E_JOB=(\S+) E2E_EVI=(\S+) E2E_SAVI=(\S+)$/m.exec(run.output) ?? [];
	if (jobId === undefined || eviId === undefined || saviId === undefined) {
		throw new Error("the walk-through printed no job ids");
	}

	const job = await getJson<Job>(`${api}/v1/jobs/${jobId}`);
	check(`job ${jobId} succeeded`, job.status === "succeeded" && job.error === null, JSON.stringify(job));
	const { events } = await getJson<{ events: { stage: string; status: string; trace_id: string }[] }>(
		`${api}/v1/jobs/${jobId}/events`,
	);
	const succeeded = new Set(events.filter((event) => event.status === "succeeded").map((event) => event.stage));
	check(
		`timeline: ${stageNames.join(", ")} succeeded under one trace id`,
		stageNames.every((stage) => succeeded.has(stage)) && new Set(events.map((event) => event.trace_id)).size === 1,
		JSON.stringify(events),
	);
	const { logs } = await getJson<{ logs: { code?: string; trace_id: string }[] }>(
		`${api}/v1/jobs/${jobId}/logs?limit=100`,
	);
	check(
		"log: starts queued, every stage finished, one trace id",
		logs[0]?.code === "queued" &&
			logs.filter((row) => row.code === "succeeded").length >= stageNames.length &&
			logs.every((row) => row.trace_id === job.trace_id),
		JSON.stringify(logs),
	);
	const trace = await getJson<{
		resourceSpans: { scopeSpans: { spans: { traceId: string; parentSpanId?: string }[] }[] }[];
	}>(`${api}/v1/jobs/${jobId}/trace`);
	const spans = trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
	check(
		"trace: OTLP spans of the job's trace id under one root",
		spans.length > stageNames.length &&
			spans.every((span) => span.traceId === job.trace_id) &&
			spans.filter((span) => span.parentSpanId === undefined).length === 1,
		JSON.stringify(trace).slice(0, 2000),
	);

	const ndvi = join(workDir, "artifacts", "ndvi.tif");
	check("artifacts/ndvi.tif was downloaded", existsSync(ndvi));
	if (!existsSync(ndvi)) return jobId;
	await checkPixels("ndvi.tif", new Uint8Array(readFileSync(ndvi)).buffer, "ndvi_s2_256");
	await checkStatistics("ndvi", api, jobId, "ndvi_s2_256");
	await checkStacItem("ndvi", api, jobId);
	for (const [label, id, caseName] of [
		["evi (six-band L2A, scale and offset)", eviId, "evi_s2_l2a"],
		["savi (L 0.5)", saviId, "savi_s2_l2a"],
	] as const) {
		const job = await getJson<Job>(`${api}/v1/jobs/${id}`);
		check(`${label}: job ${id} succeeded`, job.status === "succeeded", JSON.stringify(job));
		if (job.status === "succeeded") await checkStatistics(label, api, id, caseName);
	}
	return jobId;
}

/**
 * A job's item.json: valid for stac-node-validator against the offline schemas, and every
 * asset's href (absolute, on the origin the job was submitted to) serving bytes of its
 * file:size and file:checksum.
 */
async function checkStacItem(label: string, api: string, jobId: string): Promise<void> {
	const item = await getJson<{ id: string; assets: Record<string, Record<string, unknown>> }>(
		`${api}/v1/jobs/${jobId}/artifacts/item.json`,
	);
	const validation = await validateStacItem(item);
	check(
		`${label} item.json: a valid STAC 1.1 Item (stac-node-validator)`,
		validation.valid,
		validation.errors.join("; "),
	);
	const off: string[] = [];
	for (const [name, asset] of Object.entries(item.assets)) {
		const href = String(asset.href);
		if (href !== `${api}/v1/jobs/${jobId}/artifacts/${name}`) off.push(`${name}: href ${href}`);
		const response = await fetch(href, { headers: DEV_AUTH });
		const bytes = Buffer.from(await response.arrayBuffer());
		const checksum = `1220${createHash("sha256").update(bytes).digest("hex")}`;
		if (response.status !== 200 || asset["file:size"] !== bytes.length || asset["file:checksum"] !== checksum) {
			off.push(
				`${name}: ${response.status}, ${bytes.length} bytes, ${checksum} vs ${asset["file:size"]}, ${asset["file:checksum"]}`,
			);
		}
	}
	check(
		`${label} item.json: ${Object.keys(item.assets).join(", ")} served at their hrefs with their sizes and checksums`,
		item.id === jobId && off.length === 0,
		off.join("; "),
	);
}

function gdalinfo(path: string): GdalInfo {
	const run = spawnSync("gdalinfo", ["-json", path], { encoding: "utf8" });
	if (run.status !== 0) throw new Error(`gdalinfo -json ${path}: exit ${run.status}: ${run.stderr}`);
	return JSON.parse(run.stdout) as GdalInfo;
}

/** Returns whether GDAL was there to ask. */
function checkWithGdal(): boolean {
	console.log("\n# GDAL reads ndvi.tif on the input's grid");
	const version = spawnSync("gdalinfo", ["--version"], { encoding: "utf8" });
	if (version.error) {
		console.log("GDAL checks NOT run: gdalinfo is not on PATH (Debian: apt-get install -y gdal-bin)");
		return false;
	}
	console.log(version.stdout.trim());
	const ndvi = join(workDir, "artifacts", "ndvi.tif");
	if (!existsSync(ndvi)) throw new Error("no artifacts/ndvi.tif for gdalinfo");
	const result = gdalinfo(ndvi);
	const source = gdalinfo(join(workDir, "samples", "s2_red_256.tif"));
	const band = result.bands[0];
	check("gdalinfo: same size as the input", `${result.size}` === `${source.size}`, `${result.size} vs ${source.size}`);
	check(
		"gdalinfo: same geoTransform",
		result.geoTransform !== undefined && `${result.geoTransform}` === `${source.geoTransform}`,
		`${result.geoTransform} vs ${source.geoTransform}`,
	);
	check(
		"gdalinfo: same CRS WKT",
		result.coordinateSystem?.wkt !== undefined && result.coordinateSystem.wkt === source.coordinateSystem?.wkt,
	);
	check(
		"gdalinfo: one Float32 band, noDataValue NaN",
		result.bands.length === 1 && band?.type === "Float32" && String(band.noDataValue).toLowerCase() === "nan",
		`${result.bands.length} band(s), ${band?.type}, nodata ${band?.noDataValue}`,
	);
	return true;
}

async function upload(api: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
	return fetch(`${api}/v1/uploads`, {
		method: "POST",
		headers: { "content-type": "image/tiff", ...DEV_AUTH, ...headers },
		body: new Uint8Array(readFileSync(path)),
	});
}

async function uploadId(api: string, path: string): Promise<string> {
	const response = await upload(api, path);
	if (response.status !== 201) throw new Error(`upload ${path}: ${response.status} ${await response.text()}`);
	return ((await response.json()) as { id: string }).id;
}

async function waitForJob(api: string, id: string): Promise<Job> {
	const deadline = performance.now() + JOB_TIMEOUT_MS;
	for (;;) {
		const job = await getJson<Job>(`${api}/v1/jobs/${id}`);
		if (job.status !== "queued" && job.status !== "running") return job;
		if (performance.now() > deadline) {
			throw new Error(`job ${id} still ${job.status} at stage ${job.stage} after ${JOB_TIMEOUT_MS / 1000} s`);
		}
		await sleep(500);
	}
}

async function checkNdwi(api: string): Promise<void> {
	console.log("\n# NDWI over HTTP (fetch)");
	const started = performance.now();
	const green = await uploadId(api, join(SAMPLES, "s2_green_256.tif"));
	const nir = await uploadId(api, join(SAMPLES, "s2_nir_256.tif"));
	const submitted = await fetch(`${api}/v1/jobs`, {
		method: "POST",
		headers: { "content-type": "application/json", ...DEV_AUTH },
		body: JSON.stringify({
			index: "ndwi",
			inputs: { green: { upload_id: green }, nir: { upload_id: nir } },
			// The manifest's edges, so the histogram compares bin for bin.
			histogram: { range: [-1, 1], bins: 20 },
		}),
	});
	const { id } = (await submitted.json()) as { id: string };
	check(
		"POST /v1/jobs: 202 with Location /v1/jobs/<id>",
		submitted.status === 202 && submitted.headers.get("location") === `/v1/jobs/${id}`,
		`${submitted.status} ${submitted.headers.get("location")}`,
	);
	const job = await waitForJob(api, id);
	check(`job ${id} succeeded (${seconds(started)})`, job.status === "succeeded", JSON.stringify(job));
	const result = await fetch(`${api}/v1/jobs/${id}/artifacts/result.tif`, { headers: DEV_AUTH });
	check("result.tif: 200", result.status === 200, `${result.status}`);
	await checkPixels("ndwi result.tif", await result.arrayBuffer(), "ndwi_s2_256");
	await checkStatistics("ndwi", api, id, "ndwi_s2_256");
}

/**
 * Fields over plain HTTP: the manifest's field set stored with POST /v1/fields, NDVI per field
 * with exact coverage fractions, every field's statistics against Shapely's and numpy's.
 */
async function checkFields(api: string): Promise<string> {
	console.log("\n# Fields: POST /v1/fields, then a zonal_statistics job (fetch)");
	const started = performance.now();
	const manifest = JSON.parse(readFileSync(join(FIXTURES, "t2", "manifest-t2.json"), "utf8")) as {
		zonal_cases: Record<string, { expected: Record<string, Record<string, unknown>> }>;
	};
	const expected = manifest.zonal_cases.zonal_ndvi_fraction?.expected ?? {};
	const stored = await fetch(`${api}/v1/fields`, {
		method: "POST",
		headers: { "content-type": "application/json", ...DEV_AUTH },
		body: readFileSync(join(FIXTURES, "t2", "fields.geojson")),
	});
	const fieldSet = (await stored.json()) as { id: string; features: number };
	check(
		`POST /v1/fields: 201, ${Object.keys(expected).length} features`,
		stored.status === 201 && fieldSet.features === Object.keys(expected).length,
		JSON.stringify(fieldSet),
	);
	const red = await uploadId(api, join(FIXTURES, "t2", "red_10m.tif"));
	const nir = await uploadId(api, join(FIXTURES, "t2", "nir_10m.tif"));
	const submitted = await fetch(`${api}/v1/jobs`, {
		method: "POST",
		headers: { "content-type": "application/json", ...DEV_AUTH },
		body: JSON.stringify({
			process: "zonal_statistics",
			index: "ndvi",
			inputs: { red: { upload_id: red }, nir: { upload_id: nir } },
			zones: { field_set_id: fieldSet.id },
		}),
	});
	const { id } = (await submitted.json()) as { id: string };
	check("POST /v1/jobs (zonal_statistics): 202", submitted.status === 202, `${submitted.status}`);
	const job = await waitForJob(api, id);
	check(`job ${id} succeeded (${seconds(started)})`, job.status === "succeeded", JSON.stringify(job));
	const zones = await getJson<{ features: { id: string; properties: { statistics: Record<string, unknown> } }[] }>(
		`${api}/v1/jobs/${id}/artifacts/zones.geojson`,
	);
	const close = (a: unknown, b: unknown) =>
		a === b ||
		(typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= Math.max(1e-9, 1e-6 * Math.abs(b)));
	const off = zones.features.flatMap(({ id: fieldId, properties: { statistics } }) =>
		["count", "nodata_count", "mean", "std", "min", "max", "sum"]
			.filter((key) => !close(statistics[key], expected[fieldId]?.[key]))
			.map((key) => `${fieldId}.${key} ${statistics[key]} vs ${expected[fieldId]?.[key]}`),
	);
	check(
		`zones.geojson: ${zones.features.length} fields match Shapely and numpy within 1e-6`,
		zones.features.length === Object.keys(expected).length && off.length === 0,
		off.slice(0, 5).join("; "),
	);
	const csv = await fetch(`${api}/v1/jobs/${id}/artifacts/zones.csv`, { headers: DEV_AUTH });
	check(
		"zones.csv: 200 text/csv, a row per field",
		csv.status === 200 && (await csv.text()).trimEnd().split("\r\n").length === zones.features.length + 1,
	);
	await checkStacItem("zonal", api, id);
	return id;
}

async function checkKeyRequired(api: string): Promise<void> {
	console.log("\n# Error path: no API key");
	const response = await fetch(`${api}/v1/jobs/job_0123456789abcdef01234567`);
	check("GET /v1/jobs/{id} without a key: 401", response.status === 401, `${response.status}`);
	check(
		"WWW-Authenticate: Bearer",
		(response.headers.get("www-authenticate") ?? "").startsWith("Bearer"),
		response.headers.get("www-authenticate") ?? "missing",
	);
	await response.body?.cancel();
}

async function checkNotATiff(api: string): Promise<void> {
	console.log("\n# Error path: a non-TIFF upload");
	const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
	const response = await upload(api, join(FIXTURES, "not_a_tiff.tif"), {
		traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
	});
	check("POST /v1/uploads not_a_tiff.tif: 415", response.status === 415, `${response.status}`);
	const contentType = response.headers.get("content-type") ?? "";
	check("content-type application/problem+json", contentType.startsWith("application/problem+json"), contentType);
	const traceparent = response.headers.get("traceparent") ?? "";
	check(
		"traceparent response header continues the request's trace",
		new RegExp(`^00-${traceId}-[0-9a-f]{16}-[0-9a-f]{2}$`).test(traceparent),
		traceparent || "missing",
	);
	const problem = (await response.json()) as { type?: string; status?: number; trace_id?: string };
	check(
		"problem: status 415, eo-edge type, same trace_id",
		problem.status === 415 &&
			problem.type?.startsWith("https://eo-edge.dev/problems/") === true &&
			problem.trace_id === traceId,
		JSON.stringify(problem),
	);
}

/** `npm run demo`, as the README shows it, pointed at this server: the partner client end to end. */
async function checkDemo(api: string): Promise<void> {
	console.log("\n# npm run demo (the generated client, as a partner uses it)");
	const folder = join(workDir, "demo");
	const script = join(workDir, "demo.sh");
	writeFileSync(script, `cd ${JSON.stringify(ROOT)}\nnpm run demo\n`);
	const started = performance.now();
	const run = await runBash(script, workDir, { EO_EDGE_API: api, EO_EDGE_DEMO_DIR: folder });
	console.log(run.output.trimEnd().replace(/^/gm, "  | "));
	check(`npm run demo exits 0 (${seconds(started)})`, run.status === 0, `exit ${run.status}`);
	const jobId = /^job (job_[0-9a-f]+) submitted$/m.exec(run.output)?.[1];
	if (jobId === undefined) throw new Error("the demo printed no job id");
	check("the demo printed the statistics", /NDVI statistics over \d+ pixels/.test(run.output));
	check("the demo printed NDVI per field", /NDVI per field/.test(run.output) && /north-field/.test(run.output));
	check(
		"the demo's receiver got job.succeeded, its signature verified by standardwebhooks",
		new RegExp(`webhook job\\.succeeded for ${jobId}: signature verified`).test(run.output),
	);
	const result = join(folder, jobId, "result.tif");
	check(
		"the demo saved result.tif and stats.json",
		existsSync(result) && existsSync(join(folder, jobId, "stats.json")),
	);
	if (existsSync(result))
		await checkPixels("demo result.tif", new Uint8Array(readFileSync(result)).buffer, "ndvi_s2_256");
}

/**
 * A client whose Content-Length is past the upload limit and who sends only 10 bytes, then
 * waits for the answer with its side open (as curl does). Over a raw socket, since fetch
 * would not send a body shorter than its Content-Length.
 */
async function checkLyingContentLength(api: string): Promise<void> {
	console.log("\n# Error path: Content-Length 1 GiB, 10 bytes sent, the client waiting");
	const { hostname, port, host } = new URL(api);
	const socket = connect(Number(port), hostname);
	const chunks: Buffer[] = [];
	socket.on("data", (chunk: Buffer) => chunks.push(chunk));
	socket.on("error", () => undefined);
	const closed = once(socket, "close").then(() => true);
	socket.write(
		`POST /v1/uploads HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${DEV_AUTH.authorization}\r\n` +
			`Content-Type: image/tiff\r\nContent-Length: ${2 ** 30}\r\n\r\nII*\0abcdef`,
	);
	const answered = await Promise.race([closed, sleep(10_000).then(() => false)]);
	socket.destroy();
	const answer = Buffer.concat(chunks).toString("latin1");
	check("answered within 10 s, then the connection closed", answered, `got ${JSON.stringify(answer.slice(0, 200))}`);
	check(
		"413 application/problem+json",
		/^HTTP\/1\.1 413 /.test(answer) && /^content-type: application\/problem\+json/im.test(answer),
		answer.split("\r\n")[0] ?? "nothing",
	);
}

/** A partner's page on another origin: upload, submit, poll and download through CORS. */
async function checkBrowserPage(api: string): Promise<void> {
	console.log("\n# A page from another origin calls the API with a key, in headless Chromium");
	const { checks } = await checkBrowserClient(api, DEVELOPMENT_API_KEY, manifestCase("ndvi_s2_256").stats.count);
	for (const { label, ok, detail } of checks) check(label, ok, detail);
}

/**
 * The job page in headless Chromium for a succeeded index job, a succeeded field job, a job that
 * failed (its upload deleted as it started) and one still running (its remote input unreachable,
 * so ingest retries with backoff; it is canceled afterwards).
 */
async function checkJobPages(api: string, indexJob: string | undefined, fieldJob: string): Promise<void> {
	console.log("\n# GET /v1/jobs/{id}/view in headless Chromium");
	mkdirSync(join(ROOT, "build"), { recursive: true });
	const red = await uploadId(api, join(SAMPLES, "s2_red_256.tif"));
	const nir = await uploadId(api, join(SAMPLES, "s2_nir_256.tif"));
	const submit = async (inputs: Record<string, unknown>) => {
		const response = await fetch(`${api}/v1/jobs`, {
			method: "POST",
			headers: { "content-type": "application/json", ...DEV_AUTH },
			body: JSON.stringify({ index: "ndvi", inputs }),
		});
		return ((await response.json()) as { id: string }).id;
	};
	// The running job first: its ingest retries for some 14 s (2 + 4 + 8 s of backoff), then fails.
	const live = await submit({ red: { upload_id: red }, nir: { href: "https://archive.example.invalid/B08.tif" } });
	const failing = await submit({ red: { upload_id: red }, nir: { upload_id: nir } });
	await fetch(`${api}/v1/uploads/${nir}`, { method: "DELETE", headers: DEV_AUTH });
	type PageJob = Parameters<typeof checkJobPage>[2];
	const pages: [string, () => Promise<PageJob>][] = [
		[
			"running",
			async () => {
				// A job still queued has no stage attempt to draw: its page is opened once ingest has begun.
				const deadline = performance.now() + JOB_TIMEOUT_MS;
				while ((await deliverySpans(api, DEVELOPMENT_API_KEY, live)) === 0 && performance.now() < deadline) {
					await sleep(250);
				}
				return { id: live, expected: "live" };
			},
		],
		...(indexJob
			? [
					["index", async () => ({ id: indexJob, expected: "succeeded", results: "index" })] as [
						string,
						() => Promise<PageJob>,
					],
				]
			: []),
		["fields", async () => ({ id: fieldJob, expected: "succeeded", results: "zonal" })],
		[
			"failed",
			async () => {
				const failed = await waitForJob(api, failing);
				check(`job ${failing} failed once its upload was deleted`, failed.status === "failed", JSON.stringify(failed));
				return { id: failing, expected: "failed" };
			},
		],
	];
	for (const [name, job] of pages) {
		const screenshot = join(ROOT, "build", `job-page-${name}.png`);
		for (const { label, ok, detail } of await checkJobPage(api, DEVELOPMENT_API_KEY, await job(), screenshot)) {
			check(`${name} job page: ${label}`, ok, detail);
		}
		console.log(`screenshot: ${screenshot}`);
	}
	await fetch(`${api}/v1/jobs/${live}/cancel`, { method: "POST", headers: DEV_AUTH });
}

async function checkDocs(api: string): Promise<void> {
	console.log("\n# GET /v1/docs in headless Chromium");
	mkdirSync(join(ROOT, "build"), { recursive: true });
	const screenshot = join(ROOT, "build", "docs-screenshot.png");
	for (const { label, ok, detail } of await checkDocsPage(api, screenshot)) check(label, ok, detail);
	console.log(`screenshot: ${screenshot}`);
}

const started = performance.now();
let server: DevServer | undefined;
let gdalChecked = false;
try {
	requireTool("curl", "apt-get install -y curl");
	requireTool("jq", "apt-get install -y jq");
	const port = await freePort();
	const api = `http://127.0.0.1:${port}`;
	console.log(`# npm run dev -- --port ${port} --ip 127.0.0.1`);
	server = startDevServer(port, { allowLoopback: true });
	await waitForHealth(server, api);
	check(`GET /v1/health: 200 (dev server up in ${seconds(started)})`, true);
	const indexJob = await checkWalkthrough(api);
	gdalChecked = checkWithGdal();
	await checkNdwi(api);
	const fieldJob = await checkFields(api);
	await checkNotATiff(api);
	await checkKeyRequired(api);
	await checkLyingContentLength(api);
	await checkDemo(api);
	await checkDocs(api);
	await checkJobPages(api, indexJob, fieldJob);
	await checkBrowserPage(api);
} catch (error) {
	check("run", false, error instanceof Error ? error.message : String(error));
} finally {
	if (server) {
		if (failed > 0) {
			const log = server.log();
			console.log("\n# npm run dev output (last 60 lines)");
			console.log(log.split("\n").slice(-60).join("\n"));
			// A reload restarts workerd and loses the queue messages in flight, stalling a job.
			if (log.includes("Reloading local server")) {
				console.log("note: wrangler reloaded the worker during the run (a source or Wasm file changed)");
			}
		}
		await stopGroup(server.pid);
	}
	// Keep what the walk-through wrote (artifacts/ndvi.tif, the script) when something failed.
	if (failed > 0 && existsSync(join(workDir, "walkthrough.sh"))) console.log(`\nkept ${workDir} for inspection`);
	else rmSync(workDir, { recursive: true, force: true });
}
if (failed === 0) {
	const gdal = gdalChecked ? "GDAL's view of its grid" : "GDAL checks skipped";
	console.log(
		`\nverified in ${seconds(started)}: README walk-through (NDVI pixels and stats, EVI and SAVI stats), ${gdal}, NDWI, STAC Items of an index and a zonal job, 415, 401 and 413 problems, npm run demo, docs page, job pages, a cross-origin page`,
	);
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
