/**
 * W3C Trace Context: one trace id follows a job from its HTTP request through every queue
 * message, event row and log line.
 */

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

export interface TraceContext {
	traceId: string;
	/** The span of this unit of work (a request or a message delivery). */
	spanId: string;
}

function randomHex(bytes: number): string {
	const buffer = crypto.getRandomValues(new Uint8Array(bytes));
	return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A fresh span id; all-zero ids are invalid in W3C Trace Context. */
export function newSpanId(): string {
	const id = randomHex(8);
	return ALL_ZERO.test(id) ? newSpanId() : id;
}

export function newTraceId(): string {
	const id = randomHex(16);
	return ALL_ZERO.test(id) ? newTraceId() : id;
}

/**
 * Continues the caller's trace when `traceparent` is valid (version 00, non-zero ids),
 * otherwise starts a new one, as the W3C spec asks of a receiver.
 */
export function traceFromHeader(traceparent: string | null | undefined): TraceContext {
	const match = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
	if (match) {
		const [, version, traceId, parentId] = match;
		if (version !== "ff" && traceId && parentId && !ALL_ZERO.test(traceId) && !ALL_ZERO.test(parentId)) {
			return { traceId, spanId: newSpanId() };
		}
	}
	return { traceId: newTraceId(), spanId: newSpanId() };
}

export function formatTraceparent(trace: TraceContext): string {
	return `00-${trace.traceId}-${trace.spanId}-01`;
}
