import { describe, expect, it } from "vitest";
import { formatTraceparent, traceFromHeader } from "../../src/observability/trace";

describe("trace context", () => {
	it("continues a valid traceparent with a new span", () => {
		const trace = traceFromHeader("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
		expect(trace.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(trace.spanId).toMatch(/^[0-9a-f]{16}$/);
		expect(trace.spanId).not.toBe("00f067aa0ba902b7");
		expect(formatTraceparent(trace)).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${trace.spanId}-01`);
	});

	it("starts a new trace for missing, malformed, all-zero or version ff headers", () => {
		for (const header of [
			undefined,
			"",
			"garbage",
			"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
			"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
			"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		]) {
			const trace = traceFromHeader(header);
			expect(trace.traceId, String(header)).toMatch(/^[0-9a-f]{32}$/);
			expect(trace.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		}
	});

	it("treats upper-case hex and extra fields in version 00 as invalid, as W3C asks", () => {
		for (const header of [
			"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		]) {
			expect(traceFromHeader(header).traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		}
	});

	it("passes the caller's trace flags on, and samples new traces", () => {
		const unsampled = traceFromHeader("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
		expect(formatTraceparent(unsampled)).toMatch(/-00$/);
		expect(formatTraceparent(traceFromHeader(undefined))).toMatch(/-01$/);
		const future = traceFromHeader("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more");
		expect(future.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
	});
});
