/**
 * W3C Trace Context: one trace id follows a job from its HTTP request through every queue
 * message, event row and log line.
 */
import { randomHex } from "../ids";

/** Version 00 of the header; later versions start with the same four fields. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;
/** New traces are recorded (the sampled flag), so every job can be followed. */
const SAMPLED = "01";

export interface TraceContext {
	traceId: string;
	/** The span of this unit of work (a request or a message delivery). */
	spanId: string;
	/** The caller's span, when a valid traceparent continued its trace. */
	parentSpanId: string | null;
	/** The caller's trace flags, passed on unchanged. */
	flags: string;
}

/** A fresh span id; all-zero ids are invalid in W3C Trace Context. */
export function newSpanId(): string {
	const id = randomHex(8);
	return ALL_ZERO.test(id) ? newSpanId() : id;
}

function newTraceId(): string {
	const id = randomHex(16);
	return ALL_ZERO.test(id) ? newTraceId() : id;
}

/**
 * Continues the caller's trace when `traceparent` is valid (lower-case hex, non-zero ids, not
 * version ff, no extra fields in version 00), otherwise starts a new one, as the spec asks.
 */
export function traceFromHeader(traceparent: string | null | undefined): TraceContext {
	const match = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
	if (match) {
		const [, version, traceId, parentId, flags, extra] = match;
		const wellFormed = version !== "ff" && !(version === "00" && extra !== undefined);
		if (wellFormed && traceId && parentId && flags && !ALL_ZERO.test(traceId) && !ALL_ZERO.test(parentId)) {
			return { traceId, spanId: newSpanId(), parentSpanId: parentId, flags };
		}
	}
	return { traceId: newTraceId(), spanId: newSpanId(), parentSpanId: null, flags: SAMPLED };
}

export function formatTraceparent(trace: TraceContext): string {
	return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}

/**
 * What a delivery is called in logs and as a span: its stage, and its window, part or publish
 * step when it has one ("compute window 3", "store part 2", "publish step 1", "ingest").
 */
export function deliveryLabel(
	stage: string,
	{ window, part, step }: { window?: unknown; part?: unknown; step?: unknown },
): string {
	if (typeof window === "number") return `${stage} window ${window}`;
	if (typeof part === "number") return `${stage} part ${part}`;
	return typeof step === "number" ? `${stage} step ${step}` : stage;
}
