import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createClient, type Job, WaitForJobError, waitForJob } from "../src/index";

interface Answer {
	status: number;
	body: unknown;
	retryAfter?: string;
}

function job(status: Job["status"]): Job {
	return {
		id: "job_0123456789abcdef01234567",
		status,
		stage: status === "queued" ? null : "compute",
		progress: status === "succeeded" ? 1 : 0.5,
		process: "index",
		index: "NDVI",
		expression: "(nir - red)/(nir + red)",
		constants: {},
		inputs: {},
		trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
		usage: {
			wall_ms: 0,
			invocations: 0,
			bytes_read_uploads: 0,
			bytes_read_remote: 0,
			bytes_written: 0,
			pixels: null,
		},
		created_at: "2026-11-25T12:00:00.000Z",
		updated_at: "2026-11-25T12:00:00.000Z",
		error: null,
		warnings: [],
		artifacts: [],
	};
}

/** A client whose server answers from `answers` in turn and notes when each poll arrived. */
function scriptedClient(answers: Answer[]) {
	const pollTimes: number[] = [];
	const client = createClient({
		baseUrl: "http://api.test",
		fetch: (async () => {
			pollTimes.push(Date.now());
			const answer = answers.length > 1 ? answers.shift() : answers[0];
			if (!answer) throw new Error("no scripted answer");
			const headers: Record<string, string> = { "content-type": "application/json" };
			if (answer.retryAfter !== undefined) headers["retry-after"] = answer.retryAfter;
			return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
		}) as typeof fetch,
	});
	const waits = () => pollTimes.slice(1).map((time, i) => time - (pollTimes[i] as number));
	return { client, waits };
}

describe("waitForJob", () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it("waits as long as Retry-After says, backs off 1.5x when it says nothing, and returns the ended job", async () => {
		const { client, waits } = scriptedClient([
			{ status: 200, body: job("queued"), retryAfter: "2" },
			{ status: 200, body: job("running") },
			{ status: 200, body: job("running") },
			{ status: 200, body: job("succeeded") },
		]);
		const seen: string[] = [];
		const polling = waitForJob("job_0123456789abcdef01234567", {
			client,
			initialDelayMs: 100,
			onProgress: (state) => seen.push(state.status),
		});
		await vi.runAllTimersAsync();
		const ended = await polling;
		expect(ended.status).toBe("succeeded");
		expect(seen).toEqual(["queued", "running", "running", "succeeded"]);
		expect(waits()).toEqual([2000, 150, 225]);
	});

	it("never waits longer than maxDelayMs, even when Retry-After asks for more", async () => {
		const { client, waits } = scriptedClient([
			{ status: 200, body: job("running"), retryAfter: "30" },
			{ status: 200, body: job("failed") },
		]);
		const polling = waitForJob("job_0123456789abcdef01234567", { client, maxDelayMs: 1000 });
		await vi.runAllTimersAsync();
		expect((await polling).status).toBe("failed");
		expect(waits()).toEqual([1000]);
	});

	it("gives up with WaitForJobError when the job does not end in time", async () => {
		const { client } = scriptedClient([{ status: 200, body: job("running") }]);
		const polling = waitForJob("job_0123456789abcdef01234567", { client, timeoutMs: 1000, initialDelayMs: 400 });
		const outcome = expect(polling).rejects.toThrow(/did not end within 1000 ms \(last status: running\)/);
		await vi.runAllTimersAsync();
		await outcome;
	});

	it("raises the server's problem when a poll fails", async () => {
		const problem = { type: "https://eo-edge.dev/problems/not-found", title: "No such resource", status: 404 };
		const { client } = scriptedClient([{ status: 404, body: problem }]);
		const error = await waitForJob("job_0123456789abcdef01234567", { client }).catch((thrown: unknown) => thrown);
		expect(error).toBeInstanceOf(WaitForJobError);
		expect((error as WaitForJobError).message).toContain("HTTP 404");
		expect((error as WaitForJobError).problem).toEqual(problem);
	});
});
