/**
 * A job's trace as OTLP/JSON (the OpenTelemetry protocol's JSON encoding, as an OTLP/HTTP
 * collector takes it at /v1/traces), built from its log: the job's root span from the request
 * that created it to its end, the request's span, and one span per delivery of a queue message
 * (a stage attempt, a window, a part), whose retries and failures are its events and status.
 *
 * The encoding's rules that collectors enforce: trace and span ids are lower-case hex (not
 * base64, which protobuf's own JSON mapping would use), times are nanoseconds since the epoch as
 * decimal strings, integers of 64 bits are strings, enums are numbers.
 */
import type { JobLogRecord } from "../db/job-logs";
import type { JobRecord } from "../db/jobs";
import { deliveryLabel } from "./trace";

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CONSUMER = 5;
const STATUS_UNSET = 0;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
interface KeyValue {
	key: string;
	value: AnyValue;
}

export interface OtlpSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	kind: number;
	startTimeUnixNano: string;
	endTimeUnixNano: string;
	attributes: KeyValue[];
	events: { timeUnixNano: string; name: string; attributes: KeyValue[] }[];
	status: { code: number; message?: string };
}

export interface OtlpTrace {
	resourceSpans: {
		resource: { attributes: KeyValue[] };
		scopeSpans: { scope: { name: string; version: string }; spans: OtlpSpan[] }[];
	}[];
}

function attribute(key: string, value: string | number | boolean): KeyValue {
	if (typeof value === "string") return { key, value: { stringValue: value } };
	if (typeof value === "boolean") return { key, value: { boolValue: value } };
	return { key, value: { intValue: String(Math.trunc(value)) } };
}

/** An ISO time (millisecond precision, as D1 rows keep it) in nanoseconds, as OTLP writes it. */
function nanos(iso: string): bigint {
	return BigInt(Date.parse(iso)) * 1_000_000n;
}

/**
 * The job's root span id: the first 16 hex digits of its id (random, so unique within the
 * trace), or the last 16 in the all-zero case W3C Trace Context forbids.
 */
export function jobSpanId(jobId: string): string {
	const hex = jobId.slice(jobId.indexOf("_") + 1);
	const head = hex.slice(0, 16);
	return /^0+$/.test(head) ? hex.slice(-16) : head;
}

/** What a delivery's span is called, as its log lines call it. */
function deliveryName(row: JobLogRecord): string {
	return deliveryLabel(row.stage, { window: row.window, part: row.data?.part, step: row.data?.step });
}

const isEnded = (status: JobRecord["status"]) => status === "succeeded" || status === "failed" || status === "canceled";

interface SpanBuild {
	span: OtlpSpan;
	start: bigint;
	end: bigint | null;
}

/**
 * The job's trace. `rows` are its log, oldest first; `now` ends the spans still open (the job's
 * own while it runs, and a delivery's that never closed), which are marked unfinished.
 */
export function jobTrace(job: JobRecord, rows: readonly JobLogRecord[], now: Date, version: string): OtlpTrace {
	const traceId = job.traceId;
	const rootId = jobSpanId(job.id);
	const nowNanos = BigInt(now.getTime()) * 1_000_000n;
	const jobStart = nanos(job.spans?.requestStartedAt ?? job.createdAt);
	const jobEnd = isEnded(job.status) ? nanos(job.updatedAt) : nowNanos;
	const spans = new Map<string, SpanBuild>();
	const open = (spanId: string, name: string, kind: number, start: bigint, attributes: KeyValue[]): SpanBuild => {
		const build: SpanBuild = {
			span: {
				traceId,
				spanId,
				parentSpanId: rootId,
				name,
				kind,
				startTimeUnixNano: "",
				endTimeUnixNano: "",
				attributes,
				events: [],
				status: { code: STATUS_UNSET },
			},
			start,
			end: null,
		};
		spans.set(spanId, build);
		return build;
	};

	const root = open(rootId, `job ${job.process}`, SPAN_KIND_INTERNAL, jobStart, [
		attribute("eo.job.id", job.id),
		attribute("eo.job.process", job.process),
		attribute("eo.job.status", job.status),
	]);
	if (job.spans?.parentSpanId) root.span.parentSpanId = job.spans.parentSpanId;
	else delete root.span.parentSpanId;
	root.end = jobEnd;
	if (job.status === "succeeded") root.span.status = { code: STATUS_OK };
	if (job.status === "failed") root.span.status = { code: STATUS_ERROR, message: job.error?.detail ?? "failed" };
	if (job.spans) {
		open(job.spans.requestSpanId, "POST /v1/jobs", SPAN_KIND_SERVER, nanos(job.spans.requestStartedAt), [
			attribute("http.request.method", "POST"),
			attribute("http.route", "/v1/jobs"),
		]);
	}

	for (const row of rows) {
		const at = nanos(row.at);
		if (row.spanPhase === "start") {
			open(row.spanId, deliveryName(row), SPAN_KIND_CONSUMER, at, [
				attribute("eo.stage", row.stage),
				...(row.attempt === null ? [] : [attribute("eo.attempt", row.attempt)]),
				...(row.window === null ? [] : [attribute("eo.window", row.window)]),
			]);
			continue;
		}
		const build = spans.get(row.spanId) ?? root;
		if (row.spanPhase === "end" && build !== root) {
			build.end = at;
			if (row.level === "info") build.span.status = { code: STATUS_OK };
			else build.span.status = { code: STATUS_ERROR, message: row.message };
			if (row.level === "info") continue;
		}
		// A row inside a span is one of its events: the request's queuing ends the request's span.
		if (build !== root && build.span.kind === SPAN_KIND_SERVER && build.end === null) build.end = at;
		build.span.events.push({
			timeUnixNano: at.toString(),
			name: row.code ?? row.level,
			attributes: [attribute("eo.level", row.level), attribute("message", row.message)],
		});
	}

	// An ended job's last delivery records its end just after the job's row does.
	if (isEnded(job.status)) {
		for (const build of spans.values())
			if (build.end !== null && root.end !== null && build.end > root.end) root.end = build.end;
	}
	for (const build of spans.values()) {
		const unfinished = build.end === null;
		// Clocks of different invocations may disagree by a little; a span never ends before it starts.
		const end = build.end ?? (build === root ? jobEnd : isEnded(job.status) ? jobEnd : nowNanos);
		build.span.startTimeUnixNano = build.start.toString();
		build.span.endTimeUnixNano = (end < build.start ? build.start : end).toString();
		if (unfinished && build !== root) build.span.attributes.push(attribute("eo.unfinished", true));
	}
	return {
		resourceSpans: [
			{
				resource: { attributes: [attribute("service.name", "eo-edge"), attribute("service.version", version)] },
				scopeSpans: [
					{ scope: { name: "eo-edge.pipeline", version }, spans: [...spans.values()].map((build) => build.span) },
				],
			},
		],
	};
}
