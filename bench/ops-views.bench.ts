/**
 * `npm run bench:ops`: do the operator's views (GET /v1/ops/failures, GET /v1/ops/stages) stay
 * cheap as the jobs' logs grow? Fills SQLite (node:sqlite, the engine under D1) through the
 * migrations and src/db/ statements with the logs of 2000 jobs spread over a week, then times
 * each view's query (the route's own db call, and for stages its figures) at 10^5 and 10^6 rows,
 * beside the reference of the same run: one job's log page (GET /v1/jobs/{id}/logs), the
 * tenant's everyday read. A view that scanned the table would grow tenfold between the sizes.
 */
import { join } from "node:path";
import { defaultQuotas } from "../src/access/quotas";
import { ensureTenant } from "../src/db/access";
import {
	jobLogStatement,
	LOG_LEVELS,
	listDeliveryRows,
	listFailures,
	listJobLogs,
	type NewJobLog,
} from "../src/db/job-logs";
import { admitJob } from "../src/db/jobs";
import { newJobId } from "../src/ids";
import { stageFigures } from "../src/routes/v1/ops.stages";
import { nodeD1, StorageCpu } from "./node-bindings";

const ROOT = join(import.meta.dirname, "..");
const JOBS = 2000;
const SIZES = [100_000, 1_000_000];
const WEEK_MS = 7 * 24 * 3600 * 1000;
const RUNS = 30;
const STAGES = ["ingest", "validate", "compute", "store", "publish"];
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

/** A deterministic generator, so every run fills the same rows. */
function random(seed: number): () => number {
	let state = seed;
	return () => {
		state = (state * 1664525 + 1013904223) % 2 ** 32;
		return state / 2 ** 32;
	};
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function timed(call: () => Promise<unknown>): Promise<{ median: number; max: number }> {
	const runs: number[] = [];
	for (let run = 0; run < RUNS; run++) {
		const start = performance.now();
		await call();
		runs.push(performance.now() - start);
	}
	return { median: median(runs), max: Math.max(...runs) };
}

const db = nodeD1(join(ROOT, "migrations"), new StorageCpu());
const now = Date.now();
const tenant = await ensureTenant(db, {
	id: "ten_bench",
	name: "bench",
	quotas: defaultQuotas,
	createdAt: new Date(now).toISOString(),
});
const jobIds: string[] = [];
for (let i = 0; i < JOBS; i++) {
	const admitted = await admitJob(
		db,
		{
			id: newJobId(),
			tenantId: tenant.id,
			process: "index",
			indexId: "NDVI",
			formula: null,
			request: { inputs: {} },
			traceId: TRACE_ID,
			spans: null,
		},
		Number.MAX_SAFE_INTEGER,
		null,
	);
	if (!("job" in admitted)) throw new Error("a bench job was refused");
	jobIds.push(admitted.job.id);
}

const next = random(20261204);
let stored = 0;
/** Rows of deliveries (a start and an end each) at random times of the last week; 1 in 50 fails. */
async function fill(upTo: number): Promise<void> {
	while (stored < upTo) {
		const rows: NewJobLog[] = [];
		for (let i = 0; i < 500; i++) {
			const jobId = jobIds[Math.floor(next() * JOBS)] ?? "";
			const stage = STAGES[Math.floor(next() * STAGES.length)] ?? "compute";
			const at = now - next() * WEEK_MS;
			const spanId = Math.floor(next() * 2 ** 52)
				.toString(16)
				.padStart(16, "1");
			const common = { jobId, stage, attempt: 1, traceId: TRACE_ID, spanId };
			const failedRun = next() < 0.02;
			rows.push(
				{
					...common,
					level: "debug",
					code: "started",
					message: `${stage} started`,
					spanPhase: "start",
					queueWaitMs: Math.floor(next() * 500),
					at: new Date(at).toISOString(),
				},
				{
					...common,
					level: failedRun ? "error" : "info",
					code: failedRun ? "input-unavailable" : "succeeded",
					message: failedRun ? `${stage} failed: input 'nir': the server answered 404` : `${stage} finished`,
					spanPhase: "end",
					durationMs: Math.floor(next() * 2000),
					at: new Date(at + 100).toISOString(),
				},
			);
		}
		await db.batch(rows.map((row) => jobLogStatement(db, row)));
		stored += rows.length;
	}
}

console.log(`# Operator views over the jobs' logs (${JOBS} jobs over a week, node:sqlite ${process.versions.sqlite})`);
console.log(
	`\n| rows in job_logs | one job's log page (reference) | failures, last 24 h | stages, last 1 h | stages, last 24 h |`,
);
console.log("| ---: | ---: | ---: | ---: | ---: |");
for (const size of SIZES) {
	await fill(size);
	const job = jobIds[0] ?? "";
	const reference = await timed(() =>
		listJobLogs(db, tenant.id, job, { levels: LOG_LEVELS.slice(1), afterId: 0, limit: 21 }),
	);
	const failures = await timed(() =>
		listFailures(
			db,
			{ since: new Date(now - 24 * 3600 * 1000).toISOString(), stage: null, code: null },
			{ before: null, limit: 21 },
		),
	);
	const stagesHour = await timed(async () =>
		stageFigures(await listDeliveryRows(db, new Date(now - 3600 * 1000).toISOString(), 100_001)),
	);
	const stagesDay = await timed(async () =>
		stageFigures(await listDeliveryRows(db, new Date(now - 24 * 3600 * 1000).toISOString(), 100_001)),
	);
	const ms = (figure: { median: number; max: number }) =>
		`${figure.median.toFixed(2)} ms (max ${figure.max.toFixed(2)})`;
	console.log(
		`| ${size.toLocaleString("en")} | ${ms(reference)} | ${ms(failures)} | ${ms(stagesHour)} | ${ms(stagesDay)} |`,
	);
}
console.log(`\nmedian and max of ${RUNS} calls each, the route's db call (and for stages, its figures)`);
