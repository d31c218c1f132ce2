/**
 * A stand-in for an OpenTelemetry collector's OTLP/HTTP receiver (https://collector.test), for the
 * workerd tests: `POST /v1/traces` takes an ExportTraceServiceRequest in OTLP's JSON encoding and
 * answers 200 `{}` when it follows the encoding's rules, 400 with the broken rules otherwise, as a
 * collector refuses what it cannot decode; `GET /v1/traces/<trace id>` gives back the spans it
 * accepted for that trace. The rules are the ones the OTLP specification sets for JSON over HTTP
 * (opentelemetry-proto, "JSON Protobuf Encoding"): trace and span ids are hex, not base64; enums
 * are integers; 64-bit integers (times, intValue) are decimal strings; lowerCamelCase keys.
 */

const HEX_32 = /^[0-9a-f]{32}$/;
const HEX_16 = /^[0-9a-f]{16}$/;
const UINT64 = /^\d{1,20}$/;
const ZERO = /^0+$/;
const VALUE_KINDS = ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"];

const accepted = new Map<string, unknown[]>();

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
	typeof value === "object" && value !== null && !Array.isArray(value);

function attributeProblems(attributes: unknown, at: string): string[] {
	if (attributes === undefined) return [];
	if (!Array.isArray(attributes)) return [`${at}: must be an array`];
	return attributes.flatMap((attribute, i) => {
		const path = `${at}[${i}]`;
		if (!isObject(attribute) || typeof attribute.key !== "string") return [`${path}.key: must be a string`];
		const value = attribute.value;
		if (!isObject(value)) return [`${path}.value: must be an AnyValue object`];
		const kinds = Object.keys(value).filter((key) => VALUE_KINDS.includes(key));
		if (kinds.length !== 1 || Object.keys(value).length !== 1) return [`${path}.value: must hold exactly one value`];
		if ("intValue" in value && !(typeof value.intValue === "string" && /^-?\d+$/.test(value.intValue)))
			return [`${path}.value.intValue: must be a decimal string`];
		return [];
	});
}

function spanProblems(span: unknown, at: string): string[] {
	if (!isObject(span)) return [`${at}: must be an object`];
	const problems: string[] = [];
	if (typeof span.traceId !== "string" || !HEX_32.test(span.traceId) || ZERO.test(span.traceId))
		problems.push(`${at}.traceId: must be 32 lower-case hex digits, not all zero`);
	if (typeof span.spanId !== "string" || !HEX_16.test(span.spanId) || ZERO.test(span.spanId))
		problems.push(`${at}.spanId: must be 16 lower-case hex digits, not all zero`);
	if (
		span.parentSpanId !== undefined &&
		span.parentSpanId !== "" &&
		!(typeof span.parentSpanId === "string" && HEX_16.test(span.parentSpanId))
	)
		problems.push(`${at}.parentSpanId: must be 16 lower-case hex digits or empty`);
	if (typeof span.name !== "string" || span.name === "") problems.push(`${at}.name: must be a non-empty string`);
	if (
		span.kind !== undefined &&
		!(Number.isInteger(span.kind) && (span.kind as number) >= 0 && (span.kind as number) <= 5)
	)
		problems.push(`${at}.kind: must be an integer SpanKind (0 to 5)`);
	const start = span.startTimeUnixNano;
	const end = span.endTimeUnixNano;
	if (typeof start !== "string" || !UINT64.test(start))
		problems.push(`${at}.startTimeUnixNano: must be a decimal string`);
	if (typeof end !== "string" || !UINT64.test(end)) problems.push(`${at}.endTimeUnixNano: must be a decimal string`);
	else if (typeof start === "string" && UINT64.test(start) && BigInt(end) < BigInt(start))
		problems.push(`${at}: ends before it starts`);
	problems.push(...attributeProblems(span.attributes, `${at}.attributes`));
	if (span.events !== undefined) {
		if (!Array.isArray(span.events)) problems.push(`${at}.events: must be an array`);
		else
			span.events.forEach((event, i) => {
				if (!isObject(event) || typeof event.timeUnixNano !== "string" || !UINT64.test(event.timeUnixNano))
					problems.push(`${at}.events[${i}].timeUnixNano: must be a decimal string`);
				else problems.push(...attributeProblems(event.attributes, `${at}.events[${i}].attributes`));
			});
	}
	if (span.status !== undefined) {
		const status = span.status;
		if (!isObject(status) || !(status.code === undefined || [0, 1, 2].includes(status.code as number)))
			problems.push(`${at}.status.code: must be 0, 1 or 2`);
	}
	return problems;
}

/** The spans of an ExportTraceServiceRequest, or the rules it breaks. */
export function otlpTraceProblems(body: unknown): { spans: Json[]; problems: string[] } {
	if (!isObject(body) || !Array.isArray(body.resourceSpans))
		return { spans: [], problems: ["resourceSpans: must be an array"] };
	const spans: Json[] = [];
	const problems: string[] = [];
	body.resourceSpans.forEach((resourceSpans, r) => {
		const at = `resourceSpans[${r}]`;
		if (!isObject(resourceSpans) || !Array.isArray(resourceSpans.scopeSpans)) {
			problems.push(`${at}.scopeSpans: must be an array`);
			return;
		}
		if (isObject(resourceSpans.resource))
			problems.push(...attributeProblems(resourceSpans.resource.attributes, `${at}.resource.attributes`));
		resourceSpans.scopeSpans.forEach((scopeSpans, s) => {
			if (!isObject(scopeSpans) || !Array.isArray(scopeSpans.spans)) {
				problems.push(`${at}.scopeSpans[${s}].spans: must be an array`);
				return;
			}
			scopeSpans.spans.forEach((span, i) => {
				const found = spanProblems(span, `${at}.scopeSpans[${s}].spans[${i}]`);
				problems.push(...found);
				if (found.length === 0) spans.push(span as Json);
			});
		});
	});
	return { spans, problems };
}

export async function otlpCollector(request: Request): Promise<Response> {
	const url = new URL(request.url);
	if (request.method === "POST" && url.pathname === "/v1/traces") {
		if (!(request.headers.get("content-type") ?? "").startsWith("application/json"))
			return new Response("OTLP/HTTP JSON needs Content-Type: application/json", { status: 415 });
		let body: unknown;
		try {
			body = await request.json();
		} catch {
			return Response.json({ code: 3, message: "the body is not JSON" }, { status: 400 });
		}
		const { spans, problems } = otlpTraceProblems(body);
		if (problems.length > 0) return Response.json({ code: 3, message: problems.join("; ") }, { status: 400 });
		for (const span of spans) {
			const trace = String(span.traceId);
			accepted.set(trace, [...(accepted.get(trace) ?? []), span]);
		}
		return Response.json({});
	}
	const stored = /^\/v1\/traces\/([0-9a-f]{32})$/.exec(url.pathname);
	if (request.method === "GET" && stored?.[1]) return Response.json({ spans: accepted.get(stored[1]) ?? [] });
	return new Response("not found", { status: 404 });
}
