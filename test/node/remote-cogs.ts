/**
 * A stand-in for the Internet in the workerd tests: miniflare routes every outbound fetch of
 * the worker here (vitest.config.ts). It serves files of test/fixtures as a COG host would,
 * with byte ranges, and misbehaves on request, as remote archives do:
 *   https://cogs.test/files/<fixture>          206 partial content for Range requests
 *   https://cogs.test/no-range/<fixture>       ignores Range: 200 with the whole file
 *   https://cogs.test/status/<code>/<name>     answers that status
 *   https://cogs.test/flaky/<token>/<fixture>  503 for the first request per token, then files
 *   https://cogs.test/slow/<fixture>           answers after SLOW_ANSWER_MS
 * Any other host is unreachable: the fetch fails as a refused connection would.
 */
import { readFile } from "node:fs/promises";

const FIXTURES = new URL("../fixtures/", import.meta.url);
export const SLOW_ANSWER_MS = 2_000;
const failedOnce = new Set<string>();

async function fixture(path: string): Promise<Uint8Array<ArrayBuffer> | null> {
	if (path.split("/").includes("..")) return null;
	try {
		return Uint8Array.from(await readFile(new URL(path, FIXTURES)));
	} catch {
		return null;
	}
}

/** One byte range of `file` as RFC 9110 asks (a single `bytes=a-b`, `a-` or `-n`). */
function ranged(file: Uint8Array<ArrayBuffer>, range: string | null): Response {
	const match = /^bytes=(\d*)-(\d*)$/.exec(range ?? "");
	if (!match) return new Response(file, { headers: { "accept-ranges": "bytes" } });
	const [, first = "", last = ""] = match;
	const start = first === "" ? Math.max(0, file.length - Number(last)) : Number(first);
	const end = first === "" || last === "" ? file.length - 1 : Math.min(Number(last), file.length - 1);
	if (start >= file.length || end < start) {
		return new Response(null, { status: 416, headers: { "content-range": `bytes */${file.length}` } });
	}
	return new Response(file.slice(start, end + 1), {
		status: 206,
		headers: { "content-range": `bytes ${start}-${end}/${file.length}`, "accept-ranges": "bytes" },
	});
}

export async function remoteCogs(request: Request): Promise<Response> {
	const url = new URL(request.url);
	if (url.hostname !== "cogs.test") return Response.error();
	const [, kind = "", ...rest] = url.pathname.split("/");
	if (kind === "status") return new Response(`status ${rest[0]}`, { status: Number(rest[0]) });
	let path = rest.join("/");
	if (kind === "flaky") {
		const [token = "", ...file] = rest;
		if (!failedOnce.has(token)) {
			failedOnce.add(token);
			return new Response("try again", { status: 503 });
		}
		path = file.join("/");
	}
	if (kind === "slow") await new Promise((resolve) => setTimeout(resolve, SLOW_ANSWER_MS));
	const file = await fixture(path);
	if (!file) return new Response("not found", { status: 404 });
	if (kind === "no-range") return new Response(file);
	return ranged(file, request.headers.get("range"));
}
