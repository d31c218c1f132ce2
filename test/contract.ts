/**
 * The published contract (openapi/v1.json) as a check on live traffic: every request the
 * integration tests send through the shared helpers and every answer the worker gives is held
 * against the operation the document declares for it, so a drift between code and document
 * fails the test that shows it. Which (operation, status) pairs the tests produced is recorded;
 * test/node/contract-coverage.ts checks after the run that every operation was seen.
 */
import { Validator } from "@cfworker/json-schema";
import contract from "../openapi/v1.json";

type Json = unknown;
interface SchemaObject {
	type?: string | string[];
	format?: string;
	[keyword: string]: Json;
}
interface Parameter {
	name: string;
	in: "path" | "query" | "header" | "cookie";
	required?: boolean;
	schema?: SchemaObject;
	/** Query arrays: `form` style, one name per item (explode, the default) or comma-separated. */
	explode?: boolean;
}
interface MediaType {
	schema?: SchemaObject;
}
interface Header {
	required?: boolean;
	schema?: SchemaObject;
}
interface ResponseObject {
	headers?: Record<string, Header>;
	content?: Record<string, MediaType>;
}
interface Operation {
	operationId: string;
	parameters?: Parameter[];
	security?: Record<string, string[]>[];
	requestBody?: { required?: boolean; content: Record<string, MediaType> };
	responses: Record<string, ResponseObject>;
}
interface OpenApiDocument {
	paths: Record<string, Record<string, Operation>>;
	components: Record<string, Record<string, Json>>;
}

const document = contract as unknown as OpenApiDocument;
/** The base the document's `#/components/…` references resolve against in the validator. */
const DOCUMENT_URI = "https://eo-edge.dev/openapi/v1.json";

/**
 * Response headers any answer may carry without the operation declaring them: the body's own
 * framing (Content-Type and Content-Length, which `content` already describes) and the CORS
 * protocol (Access-Control-*, Vary), which app.ts adds for browser callers of every /v1 path
 * and which OpenAPI has no place for short of repeating it on every response.
 */
const TRANSPORT_HEADERS = /^(content-type|content-length|vary|access-control-[a-z-]+)$/;

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

interface Route {
	method: string;
	template: string;
	pattern: RegExp;
	names: string[];
	operation: Operation;
}

/** The operations, paths with fewer templated segments first so `/v1/jobs/x` prefers a literal match. */
const routes: Route[] = Object.entries(document.paths)
	.flatMap(([template, item]) =>
		Object.entries(item)
			.filter(([method]) => HTTP_METHODS.includes(method))
			.map(([method, operation]) => {
				const names = [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? "");
				const source = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "([^/]+)");
				return { method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), names, operation };
			}),
	)
	.sort((a, b) => a.names.length - b.names.length);

/** `GET /v1/jobs/{id}`: how an operation is named in coverage and in messages. */
export function operationName(route: Pick<Route, "method" | "template">): string {
	return `${route.method} ${route.template}`;
}

/** Every operation of the document, by name. */
export const documentedOperations: readonly string[] = routes.map(operationName);

function resolve<T>(node: T | { $ref: string }): T {
	let current: unknown = node;
	for (let hops = 0; hops < 16; hops++) {
		const ref = (current as { $ref?: unknown } | null)?.$ref;
		if (typeof ref !== "string" || !ref.startsWith("#/")) return current as T;
		current = ref
			.slice(2)
			.split("/")
			.map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
			.reduce<unknown>((parent, part) => (parent as Record<string, unknown> | undefined)?.[part], document);
	}
	throw new Error(`too many $ref hops from ${JSON.stringify(node)}`);
}

const validators = new WeakMap<SchemaObject, Validator>();

/** JSON Schema 2020-12 errors of `value` against `schema`, its $refs resolved in the document. */
function schemaErrors(schema: SchemaObject, value: unknown): string[] {
	let validator = validators.get(schema);
	if (!validator) {
		validator = new Validator(
			{ $id: DOCUMENT_URI, components: document.components, allOf: [schema] } as never,
			"2020-12",
			false,
		);
		validators.set(schema, validator);
	}
	const result = validator.validate(value);
	if (result.valid) return [];
	// The deepest errors say what is wrong; the enclosing allOf/$ref ones only repeat it.
	const deepest = result.errors.filter(
		(error) => !["allOf", "$ref", "properties", "items", "anyOf"].includes(error.keyword),
	);
	return (deepest.length > 0 ? deepest : result.errors)
		.map((error) => `${error.instanceLocation}: ${error.error}`)
		.slice(0, 5);
}

/** A parameter or header as the schema types it (they travel as text). */
function typed(schema: SchemaObject | undefined, text: string): unknown {
	const types = [schema?.type ?? []].flat();
	if ((types.includes("integer") || types.includes("number")) && text.trim() !== "" && !Number.isNaN(Number(text))) {
		return Number(text);
	}
	if (types.includes("boolean") && (text === "true" || text === "false")) return text === "true";
	return text;
}

/**
 * A query array as OpenAPI's `form` style sends it: each repetition an item when exploded,
 * else comma-separated (repetitions, which some clients send anyway, are joined).
 */
function queryArray(values: string[], explode: boolean, schema: SchemaObject): unknown[] {
	const items =
		schema.items && typeof schema.items === "object" && !Array.isArray(schema.items)
			? resolve(schema.items as SchemaObject)
			: undefined;
	const texts = explode ? values : values.flatMap((value) => value.split(","));
	return texts.map((text) => typed(items, text));
}

const mediaTypeOf = (contentType: string | null) => contentType?.split(";")[0]?.trim().toLowerCase() ?? null;
const isJson = (mediaType: string) => mediaType === "application/json" || mediaType.endsWith("+json");
/** A schema for bytes, not for a JSON value (a byte range of any artifact, for one). */
const isBinary = (schema: SchemaObject | undefined) => schema?.type === "string" && schema.format === "binary";

function declaredMediaType(content: Record<string, MediaType>, mediaType: string): MediaType | undefined {
	const key = Object.keys(content).find((candidate) => mediaTypeOf(candidate) === mediaType);
	return key === undefined ? undefined : content[key];
}

function findRoute(method: string, path: string): { route: Route; params: Record<string, string> } | null {
	for (const route of routes) {
		if (route.method !== method) continue;
		const match = route.pattern.exec(path);
		if (!match) continue;
		const params = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]));
		return { route, params };
	}
	return null;
}

/** Where the request departs from what the operation accepts. */
async function requestErrors(request: Request, route: Route, params: Record<string, string>): Promise<string[]> {
	const errors: string[] = [];
	const url = new URL(request.url);
	for (const parameter of (route.operation.parameters ?? []).map(resolve)) {
		const value =
			parameter.in === "path"
				? params[parameter.name]
				: parameter.in === "query"
					? url.searchParams.get(parameter.name)
					: parameter.in === "header"
						? request.headers.get(parameter.name)
						: null;
		if (value === null || value === undefined) {
			if (parameter.required) errors.push(`${parameter.in} ${parameter.name} is required`);
			continue;
		}
		const schema = parameter.schema ? resolve(parameter.schema) : undefined;
		const instance =
			parameter.in === "query" && schema?.type === "array"
				? queryArray(url.searchParams.getAll(parameter.name), parameter.explode !== false, schema)
				: typed(schema, value);
		for (const error of schema ? schemaErrors(schema, instance) : []) {
			errors.push(`${parameter.in} ${parameter.name}${error.slice(error.indexOf(":"))}`);
		}
	}
	const needsKey = (route.operation.security ?? []).length > 0;
	if (needsKey && !/^Bearer\s+\S+$/i.test(request.headers.get("authorization") ?? "")) {
		errors.push("the operation needs Authorization: Bearer <key>");
	}
	const body = route.operation.requestBody;
	const hasBody = request.body !== null;
	if (body?.required && !hasBody) errors.push("the operation needs a request body");
	if (body && hasBody) {
		const mediaType = mediaTypeOf(request.headers.get("content-type")) ?? "application/octet-stream";
		const declared = declaredMediaType(body.content, mediaType);
		if (!declared) errors.push(`request body of ${mediaType} is not one the operation takes`);
		else if (isJson(mediaType) && declared.schema && !isBinary(declared.schema)) {
			const text = await request.clone().text();
			let parsed: unknown;
			try {
				parsed = JSON.parse(text);
			} catch {
				errors.push("request body is not JSON");
			}
			if (parsed !== undefined) errors.push(...schemaErrors(declared.schema, parsed).map((e) => `body ${e}`));
		}
	}
	return errors;
}

/** Where the answer departs from what the operation declares for its status. */
async function responseErrors(response: Response, route: Route): Promise<string[]> {
	const { responses } = route.operation;
	const status = String(response.status);
	const declaredStatus = [status, `${status[0]}XX`, "default"].find((key) => key in responses);
	if (declaredStatus === undefined) return [`status ${status} is not declared`];
	const declared = resolve(responses[declaredStatus] as ResponseObject);
	const errors: string[] = [];

	const headers = new Map(
		Object.entries(declared.headers ?? {}).map(([name, header]) => [name.toLowerCase(), resolve(header)]),
	);
	for (const [name, value] of response.headers) {
		if (TRANSPORT_HEADERS.test(name)) continue;
		const header = headers.get(name);
		if (!header) {
			errors.push(`header ${name} is sent but not declared`);
			continue;
		}
		const schema = header.schema ? resolve(header.schema) : undefined;
		for (const error of schema ? schemaErrors(schema, typed(schema, value)) : []) {
			errors.push(`header ${name}${error.slice(error.indexOf(":"))}`);
		}
	}
	for (const [name, header] of headers) {
		if (header.required && !response.headers.has(name)) errors.push(`declared header ${name} is missing`);
	}

	const mediaType = mediaTypeOf(response.headers.get("content-type"));
	const content = declared.content ?? {};
	if (mediaType === null) {
		if (Object.keys(content).length > 0 && response.body !== null) errors.push("body is sent without a Content-Type");
		return errors;
	}
	const media = declaredMediaType(content, mediaType);
	if (!media) return [...errors, `content ${mediaType} is not declared`];
	if (isJson(mediaType) && media.schema && !isBinary(media.schema)) {
		const text = await response.clone().text();
		let parsed: unknown;
		try {
			parsed = JSON.parse(text);
		} catch {
			return [...errors, `the ${mediaType} body is not JSON`];
		}
		errors.push(...schemaErrors(media.schema, parsed).map((error) => `body ${error}`));
	}
	return errors;
}

const seen = new Set<string>();
const violations: string[] = [];

/** `GET /v1/jobs/{id} 200` for every answer checked since the last call, which are then forgotten. */
export function takeCoverage(): string[] {
	const pairs = [...seen].sort();
	seen.clear();
	return pairs;
}

/** The contract violations found since the last call, which are then forgotten. */
export function takeViolations(): string[] {
	return violations.splice(0);
}

/**
 * Holds one exchange against the document: the operation it was (null for paths the document
 * does not describe, such as the docs page, the document itself or a preflight, which are not
 * checked) and where it departs from it. A request the document refuses must be refused (4xx);
 * the answer must match what the operation declares for its status.
 */
export async function checkExchange(
	request: Request,
	response: Response,
): Promise<{ operation: string | null; problems: string[] }> {
	const found = findRoute(request.method, new URL(request.url).pathname);
	if (!found) return { operation: null, problems: [] };
	const { route, params } = found;
	const operation = operationName(route);
	const problems = (await responseErrors(response, route)).map(
		(error) => `${operation} → ${response.status}: ${error}`,
	);
	const refused = await requestErrors(request, route, params);
	const clientError = response.status >= 400 && response.status < 500;
	if (refused.length > 0 && !clientError) {
		problems.push(
			`${operation} → ${response.status}: the document refuses the request (${refused.join("; ")}) but the API accepted it`,
		);
	}
	return { operation, problems };
}

/**
 * `fetch` through the contract: sends the request with `send`, records the (operation, status)
 * pair, and fails (throws, and records the violation for the test's afterEach) when the
 * exchange departs from the document.
 */
export async function contractFetch(request: Request, send: (request: Request) => Promise<Response>) {
	// The body is read for the check only when it is JSON; a clone keeps the one sent intact.
	const mediaType = mediaTypeOf(request.headers.get("content-type"));
	const copy = request.body !== null && mediaType !== null && isJson(mediaType) ? request.clone() : request;
	const response = await send(request);
	const { operation, problems } = await checkExchange(copy, response);
	if (operation) seen.add(`${operation} ${response.status}`);
	if (problems.length > 0) {
		violations.push(...problems);
		throw new Error(`contract violation:\n${problems.join("\n")}`);
	}
	return response;
}
