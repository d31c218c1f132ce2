/**
 * A webhook receiver for the workerd tests, at https://hooks.test (routed here by ./outbound.ts).
 * Each test takes its own token, and every POST under it is recorded with its headers and body:
 *   POST https://hooks.test/<token>/ok            200
 *   POST https://hooks.test/<token>/status/<code> that status (410 Gone, 429, 500, 400 …)
 *   POST https://hooks.test/<token>/redirect      302 to https://hooks.test/<token>/ok
 *   POST https://hooks.test/<token>/slow          200 after SLOW_RECEIVER_MS, past the tests' timeout
 *   GET  https://hooks.test/<token>/received      what the token's URLs received, oldest first
 */
import { setTimeout as sleep } from "node:timers/promises";

export const SLOW_RECEIVER_MS = 2_000;

export interface ReceivedWebhook {
	path: string;
	headers: Record<string, string>;
	body: string;
}

const received = new Map<string, ReceivedWebhook[]>();

export async function webhookReceiver(request: Request): Promise<Response> {
	const [token = "", behaviour = "", code = ""] = new URL(request.url).pathname.slice(1).split("/");
	if (request.method === "GET" && behaviour === "received") return Response.json(received.get(token) ?? []);
	if (request.method !== "POST") return new Response(null, { status: 405 });
	const record = {
		path: new URL(request.url).pathname,
		headers: Object.fromEntries(request.headers),
		body: await request.text(),
	};
	received.set(token, [...(received.get(token) ?? []), record]);
	switch (behaviour) {
		case "ok":
			return new Response("thanks");
		case "status":
			return new Response(null, { status: Number(code) });
		case "redirect":
			return new Response(null, { status: 302, headers: { location: `https://hooks.test/${token}/ok` } });
		case "slow":
			await sleep(SLOW_RECEIVER_MS);
			return new Response("late");
		default:
			return new Response(null, { status: 404 });
	}
}
