/**
 * Breaking changes between two OpenAPI documents. api-smart-diff resolves every $ref and
 * classifies each change; its rules treat some response changes as safe that break typed
 * clients (a response field removed, a response field's type changed) and miss a required
 * parameter or an enum added where there was none, so those are classified here on top.
 */
import { apiCompare } from "api-smart-diff";

type Json = unknown;

export type BreakKind =
	| "removed-operation"
	| "removed-response-field"
	| "new-required-request-field"
	| "new-required-parameter"
	| "narrowed-enum"
	| "changed-type"
	| "other";

export interface BreakingChange {
	kind: BreakKind;
	/** `METHOD /path` and where inside the operation, e.g. `POST /v1/jobs requestBody.….nodata.type`. */
	location: string;
	description: string;
}

interface Diff {
	action: "add" | "remove" | "replace" | "rename";
	path: readonly (string | number)[];
	type: "breaking" | "non-breaking" | "annotation" | "unclassified" | "deprecated";
	description?: string;
	before?: Json;
	after?: Json;
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

/** The value at `path` in `document`, following local $refs on the way as api-smart-diff does. */
function valueAt(document: Json, path: readonly (string | number)[]): Json {
	let node: Json = document;
	for (const key of path) {
		node = resolveRef(document, node);
		if (node === null || typeof node !== "object") return undefined;
		node = (node as Record<string | number, Json>)[key];
	}
	return resolveRef(document, node);
}

function resolveRef(document: Json, node: Json): Json {
	let current = node;
	for (let hops = 0; hops < 32; hops++) {
		const ref = (current as { $ref?: unknown } | null)?.$ref;
		if (typeof ref !== "string" || !ref.startsWith("#/")) return current;
		current = ref
			.slice(2)
			.split("/")
			.map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))
			.reduce<Json>((parent, part) => (parent as Record<string, Json> | undefined)?.[part], document);
	}
	return current;
}

function locationOf(path: readonly (string | number)[]): string {
	const [, route, method, ...rest] = path;
	const operation = `${String(method).toUpperCase()} ${String(route)}`;
	return rest.length > 0 ? `${operation} ${rest.join(".")}` : operation;
}

/** Where in an operation a diff lies: its request (body or parameters), a response, or elsewhere. */
function sideOf(path: readonly (string | number)[]): "request" | "response" | "operation" {
	const part = path[3];
	if (part === "requestBody" || part === "parameters") return "request";
	if (part === "responses") return "response";
	return "operation";
}

function isRequiredParameterAdded(diff: Diff, after: Json): boolean {
	if (diff.path[3] !== "parameters" || diff.action !== "add") return false;
	const added = valueAt(after, diff.path);
	if (diff.path.at(-1) === "required") return added === true;
	const parameters = Array.isArray(added) ? added : [added];
	return parameters.some((parameter) => (parameter as { required?: unknown } | null)?.required === true);
}

function classify(diff: Diff, before: Json, after: Json): BreakKind | null {
	const path = diff.path;
	const last = path.at(-1);
	const side = sideOf(path);
	if (path.length === 3 && diff.action === "remove") return "removed-operation";
	if (path.length === 2 && diff.action === "remove") return "removed-operation";
	if (isRequiredParameterAdded(diff, after)) return "new-required-parameter";
	if (side === "request" && diff.action === "add") {
		if (path.at(-2) === "required") return "new-required-request-field";
		if (last === "required" && Array.isArray(valueAt(after, path))) return "new-required-request-field";
		// api-smart-diff calls a new request property breaking only when it is required.
		if (path.at(-2) === "properties" && diff.type === "breaking") return "new-required-request-field";
	}
	if (side === "request" && path.at(-2) === "enum" && diff.action === "remove") return "narrowed-enum";
	if (side === "request" && path.at(-2) === "enum" && diff.action === "add") {
		// Adding values to an existing enum widens it; an enum where there was none narrows.
		return valueAt(before, path.slice(0, -1)) === undefined ? "narrowed-enum" : null;
	}
	if (last === "type" && diff.action === "replace") return "changed-type";
	if (side === "response" && diff.action === "remove") {
		// A field gone, or no longer promised: either way a client reading it breaks.
		if (path.at(-2) === "properties" || path.at(-2) === "required") return "removed-response-field";
	}
	return diff.type === "breaking" ? "other" : null;
}

/** Every change from `before` to `after` that can break an existing client, each once. */
export function findBreakingChanges(before: Json, after: Json): BreakingChange[] {
	// apiCompare writes into the documents it is given; classification needs them as they were.
	const { diffs } = apiCompare(structuredClone(before) as object, structuredClone(after) as object) as {
		diffs: Diff[];
	};
	const changes = new Map<string, BreakingChange>();
	for (const diff of diffs) {
		// Component diffs repeat, without direction, what the operations that use them show.
		if (diff.path[0] !== "paths") continue;
		if (diff.path.length >= 3 && !HTTP_METHODS.has(String(diff.path[2]))) continue;
		const kind = classify(diff, before, after);
		if (!kind) continue;
		const location = locationOf(diff.path.length === 2 ? [...diff.path, "*"] : diff.path);
		changes.set(location, { kind, location, description: diff.description ?? `${diff.action} ${location}` });
	}
	return [...changes.values()];
}

/**
 * The changes the changelog does not acknowledge. An acknowledgement is a line
 * `- breaking: \`<location>\` … Reviewed-by: <name>` in openapi/CHANGELOG.md.
 */
export function unacknowledged(changes: readonly BreakingChange[], changelog: string): BreakingChange[] {
	const acknowledged = new Set<string>();
	for (const line of changelog.split("\n")) {
		const match = /^\s*-\s+breaking:\s+`([^`]+)`.*\bReviewed-by:\s*\S+/i.exec(line);
		if (match?.[1]) acknowledged.add(match[1]);
	}
	return changes.filter((change) => !acknowledged.has(change.location));
}
