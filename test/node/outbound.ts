/**
 * Every outbound fetch of the worker in the workerd tests (vitest.config.ts), by host: the COG
 * and archive stand-ins of ./remote-cogs.ts, an OTLP collector (./otlp-collector.ts) and a
 * webhook receiver (./webhook-receiver.ts).
 */
import { otlpCollector } from "./otlp-collector.ts";
import { remoteCogs } from "./remote-cogs.ts";
import { webhookReceiver } from "./webhook-receiver.ts";

export function outbound(request: Request): Promise<Response> {
	switch (new URL(request.url).hostname) {
		case "collector.test":
			return otlpCollector(request);
		case "hooks.test":
			return webhookReceiver(request);
		default:
			return remoteCogs(request);
	}
}
