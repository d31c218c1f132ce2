/**
 * `npm run dev` (or `wrangler dev` of a bench's own Worker) as a child of a script (the e2e
 * check, the load and decode benchmarks): started on a free port in its own process group,
 * waited for until it answers, and always stopped with its whole process tree, also when the
 * script fails or is interrupted.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = join(import.meta.dirname, "..");
/**
 * `npm run dev` builds the Wasm modules and applies every migration before it serves: several
 * minutes on a loaded two-core machine, which CI's 90 minutes easily hold. (`wrangler dev` of a
 * bench's Worker only bundles it.)
 */
const HEALTH_TIMEOUT_MS = 600_000;
/** Enough of the dev server's output to explain a failure; its request log grows with every poll. */
const DEV_LOG_LIMIT = 256 * 1024;

export interface DevServer {
	pid: number;
	log: () => string;
	exited: () => boolean;
}

// Every child runs in its own process group (detached), so that wrangler's workerd and a
// walk-through's curl or sleep die with their parent whatever way this script ends.
const groups = new Set<number>();

function groupAlive(pid: number): boolean {
	try {
		process.kill(-pid, 0);
		return true;
	} catch {
		return false;
	}
}

export function signalGroups(signal: NodeJS.Signals): void {
	for (const pid of groups) if (groupAlive(pid)) process.kill(-pid, signal);
}

export async function stopGroup(pid: number): Promise<void> {
	if (groupAlive(pid)) process.kill(-pid, "SIGTERM");
	const deadline = Date.now() + 10_000;
	while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
	if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
	groups.delete(pid);
}

/** Registers a child's process group so that it is stopped with the script. */
export function adoptGroup(pid: number): void {
	groups.add(pid);
}

/** Stops every child group when the script exits or is interrupted; `cleanup` runs first on a signal. */
export function stopChildrenOnExit(cleanup: () => void = () => undefined): void {
	process.on("exit", () => signalGroups("SIGTERM"));
	for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
		process.on(signal, () => {
			signalGroups("SIGTERM");
			cleanup();
			process.exit(128 + constants.signals[signal]);
		});
	}
}

export async function freePort(): Promise<number> {
	const server = createServer();
	server.listen(0, "127.0.0.1");
	await once(server, "listening");
	const address = server.address();
	server.close();
	if (address === null || typeof address === "string") throw new Error("no TCP port to listen on");
	return address.port;
}

/**
 * `allowLoopback` passes ALLOW_LOOPBACK_URLS, so that the server may fetch, and post webhooks to,
 * this machine (the e2e run's demo receives its webhooks on 127.0.0.1).
 */
export function startDevServer(port: number, { allowLoopback = false }: { allowLoopback?: boolean } = {}): DevServer {
	const loopback = allowLoopback ? ["--var", "ALLOW_LOOPBACK_URLS:true"] : [];
	return startServer("npm run dev", [
		"npm",
		"run",
		"dev",
		"--",
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		...loopback,
	]);
}

/**
 * `wrangler dev` of a Worker of its own (a bench's), as `config` states it, offline: it must
 * answer `GET /v1/health` for {@link waitForHealth}.
 */
export function startWorkerDevServer(config: string, port: number): DevServer {
	return startServer("wrangler dev", [
		"wrangler",
		"dev",
		"--config",
		config,
		"--port",
		String(port),
		"--ip",
		"127.0.0.1",
		"--log-level",
		"warn",
		"--show-interactive-dev-session=false",
	]);
}

function startServer(name: string, [command, ...args]: [string, ...string[]]): DevServer {
	const child = spawn(command, args, {
		cwd: ROOT,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: {
			...process.env,
			CI: "true",
			WRANGLER_SEND_METRICS: "false",
			// miniflare would download the Request.cf placeholder from workers.cloudflare.com.
			CLOUDFLARE_CF_FETCH_ENABLED: "false",
		},
	});
	const pid = child.pid;
	if (pid === undefined) throw new Error(`could not start ${name}`);
	groups.add(pid);
	let log = "";
	let exited = false;
	// Both pipes must be drained all the time, or wrangler blocks on a full pipe.
	const record = (chunk: Buffer) => {
		log = (log + chunk.toString()).slice(-DEV_LOG_LIMIT);
	};
	child.stdout.on("data", record);
	child.stderr.on("data", record);
	child.on("exit", () => {
		exited = true;
	});
	return { pid, log: () => log, exited: () => exited };
}

export async function waitForHealth(server: DevServer, api: string): Promise<void> {
	const deadline = performance.now() + HEALTH_TIMEOUT_MS;
	while (performance.now() < deadline) {
		if (server.exited()) throw new Error("the dev server exited before it answered");
		try {
			const response = await fetch(`${api}/v1/health`, { signal: AbortSignal.timeout(2000) });
			if (response.status === 200) return;
		} catch {
			// Not listening yet: still bundling, or predev is still building the Wasm or migrating D1.
		}
		await sleep(500);
	}
	throw new Error(`GET /v1/health did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s`);
}
