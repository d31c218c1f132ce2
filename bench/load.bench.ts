/**
 * `npm run bench:load`: against a local `npm run dev`, a tenant submits JOBS NDVI jobs at
 * once on the sample bands and polls them all until they end. Reports how many completed or
 * failed, the p50/p99 latency of the status requests, the wall time, and checks that every
 * job reached a terminal state and that every result's statistics match GDAL/numpy's.
 *
 * Settings (environment): LOAD_JOBS (default 200), LOAD_POLL_MS (default 500).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, startDevServer, stopChildrenOnExit, stopGroup, waitForHealth } from "../scripts/dev-server";
import type { ManifestCase } from "../test/fixtures/manifest";

const ROOT = join(import.meta.dirname, "..");
const JOBS = Number(process.env.LOAD_JOBS ?? 200);
const POLL_MS = Number(process.env.LOAD_POLL_MS ?? 500);
const TIMEOUT_MS = 10 * 60_000;
const TOLERANCE = 1e-6;

const manifest = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "manifest.json"), "utf8")) as {
	cases: Record<string, ManifestCase>;
};
const expected = manifest.cases.ndvi_s2_256;
if (!expected) throw new Error("the manifest has no ndvi_s2_256 case");

function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return Number.NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** A key for a tenant whose quotas let the whole load through, from the keys CLI. */
function loadKey(): string {
	const created = spawnSync(
		"npx",
		[
			"tsx",
			"scripts/keys.ts",
			"create",
			"--tenant",
			"load-bench",
			"--max-concurrent-jobs",
			String(JOBS * 2),
			"--max-requests-per-minute",
			"1000000",
		],
		{ cwd: ROOT, encoding: "utf8" },
	);
	const key = created.stdout.trim().split("\n").at(-1) ?? "";
	if (created.status !== 0 || !key.startsWith("eoe_")) throw new Error(`keys create failed: ${created.stderr}`);
	return key;
}

stopChildrenOnExit();
const key = loadKey();
const auth = { authorization: `Bearer ${key}` };
const port = await freePort();
const api = `http://127.0.0.1:${port}`;
const server = startDevServer(port);
try {
	await waitForHealth(server, api);
	const uploadBand = async (file: string) => {
		const response = await fetch(`${api}/v1/uploads`, {
			method: "POST",
			headers: { ...auth, "content-type": "image/tiff" },
			body: new Uint8Array(readFileSync(join(ROOT, "samples", file))),
		});
		if (response.status !== 201) throw new Error(`upload ${file}: ${response.status} ${await response.text()}`);
		return ((await response.json()) as { id: string }).id;
	};
	const red = await uploadBand("s2_red_256.tif");
	const nir = await uploadBand("s2_nir_256.tif");
	const body = JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: red }, nir: { upload_id: nir } } });

	const started = performance.now();
	const submissions = await Promise.all(
		Array.from({ length: JOBS }, async () => {
			const response = await fetch(`${api}/v1/jobs`, {
				method: "POST",
				headers: { ...auth, "content-type": "application/json" },
				body,
			});
			return { status: response.status, id: ((await response.json()) as { id?: string }).id };
		}),
	);
	const submitSeconds = (performance.now() - started) / 1000;
	const accepted = submissions.flatMap((submission) =>
		submission.status === 202 && submission.id ? [submission.id] : [],
	);
	const latencies: number[] = [];
	const final = new Map<string, string>();
	const deadline = performance.now() + TIMEOUT_MS;
	while (final.size < accepted.length && performance.now() < deadline) {
		await Promise.all(
			accepted
				.filter((id) => !final.has(id))
				.map(async (id) => {
					const sent = performance.now();
					const response = await fetch(`${api}/v1/jobs/${id}`, { headers: auth });
					const job = (await response.json()) as { status: string };
					latencies.push(performance.now() - sent);
					if (["succeeded", "failed", "canceled"].includes(job.status)) final.set(id, job.status);
				}),
		);
		await sleep(POLL_MS);
	}
	const wallSeconds = (performance.now() - started) / 1000;

	let wrongStatistics = 0;
	for (const [id, status] of final) {
		if (status !== "succeeded") continue;
		const stats = (await (await fetch(`${api}/v1/jobs/${id}/artifacts/stats.json`, { headers: auth })).json()) as {
			count: number;
			nodata_count: number;
			mean: number;
		};
		const right =
			stats.count === expected.stats.count &&
			stats.nodata_count === expected.stats.nodata_count &&
			Math.abs(stats.mean - expected.stats.mean) <= TOLERANCE * Math.max(1, Math.abs(expected.stats.mean));
		if (!right) wrongStatistics++;
	}

	latencies.sort((a, b) => a - b);
	const count = (status: string) => [...final.values()].filter((value) => value === status).length;
	const rows = [
		["jobs submitted at once", String(JOBS)],
		["accepted (202)", String(accepted.length)],
		["submission wall time", `${submitSeconds.toFixed(1)} s`],
		["succeeded", String(count("succeeded"))],
		["failed", String(count("failed"))],
		["not terminal at the end", String(accepted.length - final.size)],
		["status requests", String(latencies.length)],
		["status latency p50", `${percentile(latencies, 50).toFixed(1)} ms`],
		["status latency p99", `${percentile(latencies, 99).toFixed(1)} ms`],
		["wall time until all ended", `${wallSeconds.toFixed(1)} s`],
		["results with wrong statistics", String(wrongStatistics)],
	];
	console.log("\n| Measure | Value |\n| --- | --- |");
	for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
	const ok =
		accepted.length === JOBS && final.size === accepted.length && count("succeeded") === JOBS && wrongStatistics === 0;
	console.log(
		ok ? "\nevery job reached a terminal state with correct results" : "\nNOT every job succeeded with correct results",
	);
	process.exitCode = ok ? 0 : 1;
} finally {
	await stopGroup(server.pid);
}
