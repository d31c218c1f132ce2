/**
 * Every outbound fetch of the worker in the workerd tests (vitest.config.ts), by host: the COG
 * and archive stand-ins of ./remote-cogs.ts, and an OTLP collector (./otlp-collector.ts).
 */
import { otlpCollector } from "./otlp-collector.ts";
import { remoteCogs } from "./remote-cogs.ts";

export function outbound(request: Request): Promise<Response> {
	return new URL(request.url).hostname === "collector.test" ? otlpCollector(request) : remoteCogs(request);
}
