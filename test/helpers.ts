/** Drives the worker as a client would: HTTP requests through the worker's own fetch handler. */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import {
	createClient,
	createUpload,
	type Job,
	type Upload,
	waitForJob as waitForPartnerJob,
} from "../openapi/client/src/index";
import { createApp } from "../src/app";
import type { Problem } from "../src/errors/api-error";
import { contractFetch } from "./contract";
import { TEST_API_KEY } from "./tenants";

export const BASE = "http://localhost";

/** The worker's own fetch, every exchange held against openapi/v1.json (test/contract.ts). */
function send(request: Request): Promise<Response> {
	return contractFetch(request, (checked) => exports.default.fetch(checked));
}

/** A request as the test tenant: its key is sent unless the request carries an Authorization of its own. */
export function api(path: string, init?: RequestInit): Promise<Response> {
	const headers = new Headers(init?.headers);
	if (!headers.has("authorization")) headers.set("authorization", `Bearer ${TEST_API_KEY}`);
	return send(new Request(`${BASE}${path}`, { ...init, headers }));
}

const app = createApp();

/**
 * A request as {@link api} makes it, through the same app factory but with some bindings
 * replaced: a D1 that fails on cue, or a queue that holds messages so jobs stay queued.
 */
export function apiWith(bindings: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
	const headers = new Headers(init?.headers);
	if (!headers.has("authorization")) headers.set("authorization", `Bearer ${TEST_API_KEY}`);
	return Promise.resolve(app.fetch(new Request(`${BASE}${path}`, { ...init, headers }), { ...env, ...bindings }));
}

/** The error {@link failingDatabase} throws. */
export class InjectedFault extends Error {}

/** A D1 binding whose statements fail when their SQL matches `fails`, alone or in a batch. */
export function failingDatabase(db: D1Database, fails: (sql: string) => boolean): D1Database {
	const sqlOf = new WeakMap<object, string>();
	const check = (sql: string) => {
		if (fails(sql)) throw new InjectedFault(`injected failure of: ${sql.trim().slice(0, 60)}`);
	};
	const statement = (prepared: D1PreparedStatement, sql: string): D1PreparedStatement => {
		const wrapped = new Proxy(prepared, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (typeof value !== "function") return value;
				if (property === "bind") return (...args: unknown[]) => statement(value.apply(target, args), sql);
				if (["run", "first", "all", "raw"].includes(String(property))) {
					return (...args: unknown[]) => {
						check(sql);
						return value.apply(target, args);
					};
				}
				return value.bind(target);
			},
		});
		sqlOf.set(wrapped, sql);
		return wrapped;
	};
	return new Proxy(db, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function") return value;
			if (property === "prepare") return (sql: string) => statement(value.call(target, sql), sql);
			if (property === "batch") {
				return (statements: D1PreparedStatement[]) => {
					for (const prepared of statements) check(sqlOf.get(prepared) ?? "");
					return value.call(target, statements);
				};
			}
			return value.bind(target);
		},
	});
}

/** A queue binding that accepts messages and delivers none: jobs sent to it stay queued. */
export const heldQueue = {
	send: async () => undefined,
	sendBatch: async () => undefined,
} as unknown as Queue;

/** A request with no key at all. */
export function anonymous(path: string, init?: RequestInit): Promise<Response> {
	return send(new Request(`${BASE}${path}`, init));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
	return (await response.json()) as T;
}

/**
 * The generated partner client (openapi/client), pointed at the worker: tests that upload,
 * submit and poll go through it, so a contract change that breaks partners breaks them.
 */
export function clientFor(key: string) {
	return createClient({
		baseUrl: BASE,
		auth: key,
		fetch: send as typeof fetch,
	});
}

export const partner = clientFor(TEST_API_KEY);

export async function upload(bytes: ArrayBuffer): Promise<Upload> {
	const { data, error, response } = await createUpload({ client: partner, body: new Blob([bytes]) });
	expect(response?.status, JSON.stringify(error)).toBe(201);
	return data as Upload;
}

export async function submitJob(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
	return api("/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	});
}

/**
 * Polls through the client (as the test tenant, or the tenant of `key`) until the job ends;
 * the queues run in the background of the same runtime.
 */
export function waitForJob(id: string, options: { timeoutMs?: number; key?: string } = {}): Promise<Job> {
	const client = options.key ? clientFor(options.key) : partner;
	// The server asks for 1 s between polls; tests cap it to keep the suite quick.
	return waitForPartnerJob(id, { client, timeoutMs: options.timeoutMs ?? 25_000, initialDelayMs: 50, maxDelayMs: 50 });
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
