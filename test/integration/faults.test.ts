/**
 * Injected faults, stage by stage: every message delivered twice, and every D1 statement and
 * R2 call of every delivery failing in turn (a crash after the side effects before it, and
 * before the ack), each followed by a redelivery. The job must end exactly as an undisturbed
 * run does: the same result.tif bytes and the same statistics.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getJob } from "../../src/db/jobs";
import { LATE_WRITE_GRACE_MS, sweepJobs } from "../../src/maintenance/tasks";
import { pipelineStages, stageNames } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import { deliver, insertNdviJob, recordingEnv } from "../pipeline-driver";

const TRACE_ID = "7d3c1a9e5b2f4c6d8e0a1b3c5d7e9f11";

class InjectedFault extends Error {}

/** Counts the calls made through `wrap` and throws at call number `failAt` (1-based). */
interface FaultPlan {
	calls: number;
	failAt: number;
}

function tick(plan: FaultPlan, what: string): void {
	plan.calls++;
	if (plan.calls === plan.failAt) throw new InjectedFault(`injected failure of ${what} (call ${plan.calls})`);
}

/** A D1 binding whose statement executions and batches count against the plan. */
function faultyDatabase(db: D1Database, plan: FaultPlan): D1Database {
	const statement = (prepared: D1PreparedStatement): D1PreparedStatement =>
		new Proxy(prepared, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (typeof value !== "function") return value;
				if (property === "bind") return (...args: unknown[]) => statement(value.apply(target, args));
				if (["run", "first", "all", "raw"].includes(String(property))) {
					return (...args: unknown[]) => {
						tick(plan, `D1 ${String(property)}`);
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
	return new Proxy(db, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function") return value;
			if (property === "prepare") return (sql: string) => statement(value.call(target, sql));
			if (property === "batch") {
				return (statements: D1PreparedStatement[]) => {
					tick(plan, "D1 batch");
					// Statements were wrapped by prepare; the binding needs its own objects back.
					return value.call(target, statements);
				};
			}
			return value.bind(target);
		},
	});
}

/** An R2 binding (and its multipart uploads) whose calls count against the plan. */
function faultyBucket<T extends object>(bucket: T, plan: FaultPlan): T {
	return new Proxy(bucket, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function") return value;
			return (...args: unknown[]) => {
				tick(plan, `R2 ${String(property)}`);
				const result = value.apply(target, args);
				const multipart = property === "createMultipartUpload" || property === "resumeMultipartUpload";
				if (!multipart) return result;
				if (result instanceof Promise) return result.then((upload: object) => faultyBucket(upload, plan));
				return faultyBucket(result as object, plan);
			};
		},
	});
}

type Disturbance = "none" | "duplicate" | "d1" | "r2";

/**
 * Runs a job stage by stage. With "d1" or "r2", each message is delivered with the 1st, 2nd, …
 * call of that kind failing, until a delivery makes fewer calls than the failing one (it then
 * completed); with "duplicate", each message is delivered a second time after it succeeded.
 * Returns the job, and how many deliveries failed.
 */
async function runJob(disturbance: Disturbance) {
	const { testEnv, sent } = recordingEnv();
	const job = await insertNdviJob(TRACE_ID);
	sent.ingest.push({ job_id: job.id, trace_id: TRACE_ID });
	let faults = 0;
	for (const stage of stageNames) {
		const seen = new Set<string>();
		for (const body of sent[stage]) {
			const key = JSON.stringify(body);
			if (seen.has(key)) continue;
			seen.add(key);
			const queue = pipelineStages[stage].queue;
			if (disturbance === "d1" || disturbance === "r2") {
				for (let failAt = 1; ; failAt++) {
					const plan = { calls: 0, failAt };
					const faulty =
						disturbance === "d1"
							? { ...testEnv, DB: faultyDatabase(testEnv.DB, plan) }
							: { ...testEnv, BUCKET: faultyBucket(testEnv.BUCKET, plan) };
					// Attempts cycle below the retry limit: the limit is not what is under test.
					const attempt = 1 + ((failAt - 1) % pipelineStages[stage].maxRetries);
					const { result } = await deliver(queue, body, faulty, attempt);
					if (plan.calls < failAt) break;
					faults++;
					// A failure is never swallowed: the message is retried, or its job failed.
					expect(result.retryMessages.length + result.explicitAcks.length).toBe(1);
				}
			} else {
				await deliver(queue, body, testEnv);
				if (disturbance === "duplicate") await deliver(queue, body, testEnv, 2);
			}
		}
	}
	return { job: await getJob(env.DB, job.id), faults };
}

async function outputs(jobId: string) {
	const result = await env.BUCKET.get(objectKeys.artifact(jobId, "result.tif"));
	const stats = await env.BUCKET.get(objectKeys.artifact(jobId, "stats.json"));
	return {
		tif: new Uint8Array((await result?.arrayBuffer()) ?? new ArrayBuffer(0)),
		stats: (await stats?.json()) ?? null,
		leftovers: (await env.BUCKET.list({ prefix: objectKeys.workPrefix(jobId) })).objects.length,
	};
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("injected faults", () => {
	it.each(["duplicate", "d1", "r2"] as const)(
		"with %s faults the job ends exactly as an undisturbed run does",
		async (disturbance) => {
			const undisturbed = await runJob("none");
			expect(undisturbed.job?.status).toBe("succeeded");
			const expected = await outputs(undisturbed.job?.id ?? "");
			expect(expected.tif.byteLength).toBeGreaterThan(0);

			const disturbed = await runJob(disturbance);
			if (disturbance !== "duplicate") expect(disturbed.faults).toBeGreaterThan(10);
			expect(disturbed.job?.status, JSON.stringify(disturbed.job?.error)).toBe("succeeded");
			expect(disturbed.job?.progress).toBe(1);
			// Objects a failed deletion left after success are the sweeper's to remove.
			await sweepJobs(env, Date.now() + LATE_WRITE_GRACE_MS + 1);
			const actual = await outputs(disturbed.job?.id ?? "");
			expect(actual.stats).toEqual(expected.stats);
			expect(actual.tif).toEqual(expected.tif);
			expect(actual.leftovers).toBe(0);
		},
	);
});
