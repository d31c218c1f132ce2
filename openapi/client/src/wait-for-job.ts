/**
 * The one hand-written convenience: poll a job until it ends, waiting as long as the server
 * asks (Retry-After) and otherwise backing off, so partners never hand-roll a polling loop.
 */
import type { Client } from "./generated/client/index.js";
import { getJob } from "./generated/sdk.gen.js";
import type { Job } from "./generated/types.gen.js";

export interface WaitForJobOptions {
	/** The client to poll with; the package's default client otherwise. */
	client?: Client;
	/** Give up after this long (default 10 minutes). */
	timeoutMs?: number;
	/** First wait when the server gives no Retry-After (default 500 ms); it grows 1.5x a poll. */
	initialDelayMs?: number;
	/** Longest wait between polls (default 10 s). */
	maxDelayMs?: number;
	/** Called with every state of the job seen while waiting, the last one included. */
	onProgress?: (job: Job) => void;
	signal?: AbortSignal;
}

const ENDED: ReadonlySet<Job["status"]> = new Set(["succeeded", "failed", "canceled"]);

/** Raised when a poll answers with an error problem, or the job does not end in time. */
export class WaitForJobError extends Error {
	constructor(
		message: string,
		readonly problem?: unknown,
	) {
		super(message);
		this.name = "WaitForJobError";
	}
}

function retryAfterMs(header: string | null): number | null {
	if (header === null) return null;
	const seconds = Number(header);
	if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
	const date = Date.parse(header);
	return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const timer = setTimeout(() => {
			signal?.removeEventListener("abort", abort);
			resolve();
		}, ms);
		const abort = () => {
			clearTimeout(timer);
			reject(signal?.reason);
		};
		signal?.addEventListener("abort", abort, { once: true });
	});
}

/**
 * Polls `GET /v1/jobs/{id}` until the job succeeds, fails or is canceled, and returns it in
 * that state; check `job.status` (a failed job carries its problem in `job.error`).
 */
export async function waitForJob(id: string, options: WaitForJobOptions = {}): Promise<Job> {
	const { timeoutMs = 600_000, initialDelayMs = 500, maxDelayMs = 10_000 } = options;
	const deadline = Date.now() + timeoutMs;
	let backoffMs = initialDelayMs;
	for (;;) {
		const { data, error, response } = await getJob({
			path: { id },
			...(options.client ? { client: options.client } : {}),
			...(options.signal ? { signal: options.signal } : {}),
		});
		if (!data || !response) {
			const reason = response ? `HTTP ${response.status}` : "no response";
			throw new WaitForJobError(`polling job ${id} failed: ${reason}`, error);
		}
		options.onProgress?.(data);
		if (ENDED.has(data.status)) return data;
		const waitMs = Math.min(retryAfterMs(response.headers.get("Retry-After")) ?? backoffMs, maxDelayMs);
		if (Date.now() + waitMs > deadline) {
			throw new WaitForJobError(`job ${id} did not end within ${timeoutMs} ms (last status: ${data.status})`);
		}
		await sleep(waitMs, options.signal);
		backoffMs = Math.min(backoffMs * 1.5, maxDelayMs);
	}
}
