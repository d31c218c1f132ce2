/** Drives the worker as a client would: HTTP requests through the worker's own fetch handler. */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { Problem } from "../src/errors/api-error";

export const BASE = "http://localhost";

export function api(path: string, init?: RequestInit): Promise<Response> {
	return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
	return (await response.json()) as T;
}

export interface UploadBody {
	id: string;
	bytes: number;
	raster: { width: number; height: number; bands: number; data_type: string; nodata: number | null };
}

export async function upload(bytes: ArrayBuffer): Promise<UploadBody> {
	const response = await api("/v1/uploads", {
		method: "POST",
		headers: { "content-type": "image/tiff", "content-length": String(bytes.byteLength) },
		body: bytes,
	});
	expect(response.status, await response.clone().text()).toBe(201);
	return json<UploadBody>(response);
}

export interface JobBody {
	id: string;
	status: string;
	stage: string | null;
	progress: number;
	index: string;
	error: { type: string; detail: string; status: number; trace_id: string } | null;
	artifacts: { name: string; media_type: string; bytes: number; href: string }[];
}

export async function submitJob(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return api("/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	});
}

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

/** Polls until the job ends; the queues run in the background of the same runtime. */
export async function waitForJob(id: string, timeoutMs = 25_000): Promise<JobBody> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const job = await json<JobBody>(await api(`/v1/jobs/${id}`));
		if (TERMINAL.has(job.status)) return job;
		if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} at ${job.stage} after ${timeoutMs} ms`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

/** Asserts a problem+json response and returns the problem. */
export async function expectProblem(response: Response, status: number, code: string): Promise<Problem> {
	const problem = await json<Problem>(response);
	expect(response.status, JSON.stringify(problem)).toBe(status);
	expect(response.headers.get("content-type")).toBe("application/problem+json");
	expect(problem.type).toBe(`https://eo-edge.dev/problems/${code}`);
	expect(problem.status).toBe(status);
	expect(problem.trace_id).toMatch(/^[0-9a-f]{32}$/);
	return problem;
}
