import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type BreakKind, findBreakingChanges, unacknowledged } from "./contract-diff";

const FIXTURES = "scripts/fixtures/breaking";

interface PatchOperation {
	op: "add" | "remove" | "replace";
	path: string;
	value?: unknown;
}

interface FixtureCase {
	name: string;
	patch: PatchOperation[];
	breaks: BreakKind[];
}

const base: unknown = JSON.parse(readFileSync(`${FIXTURES}/base.json`, "utf8"));
const cases: FixtureCase[] = JSON.parse(readFileSync(`${FIXTURES}/cases.json`, "utf8"));

/** RFC 6902 add/remove/replace, enough to derive each fixture's "after" document from the base. */
function applyPatch(document: unknown, patch: readonly PatchOperation[]): unknown {
	const result = structuredClone(document);
	for (const { op, path, value } of patch) {
		const keys = path
			.split("/")
			.slice(1)
			.map((key) => key.replaceAll("~1", "/").replaceAll("~0", "~"));
		const last = keys.pop() as string;
		const parent = keys.reduce<Record<string, unknown>>(
			(node, key) => node[key] as Record<string, unknown>,
			result as Record<string, unknown>,
		);
		if (Array.isArray(parent)) {
			const index = last === "-" ? parent.length : Number(last);
			if (op === "add") parent.splice(index, 0, value);
			else if (op === "remove") parent.splice(index, 1);
			else parent[index] = value;
		} else if (op === "remove") {
			delete parent[last];
		} else {
			parent[last] = value;
		}
	}
	return result;
}

describe("breaking-change check", () => {
	it("finds nothing between a document and itself", () => {
		expect(findBreakingChanges(base, structuredClone(base))).toEqual([]);
	});

	for (const fixture of cases) {
		it(`${fixture.breaks.length > 0 ? "flags" : "allows"} ${fixture.name}`, () => {
			const after = applyPatch(base, fixture.patch);
			const kinds = [...new Set(findBreakingChanges(base, after).map((change) => change.kind))];
			expect(kinds.sort()).toEqual([...fixture.breaks].sort());
		});
	}

	it("names the operation and the place of each break", () => {
		const after = applyPatch(base, [
			{ op: "replace", path: "/components/schemas/CreateJob/properties/nodata/type", value: "string" },
		]);
		expect(findBreakingChanges(base, after).map((change) => change.location)).toEqual([
			"POST /v1/jobs requestBody.content.application/json.schema.properties.nodata.type",
		]);
	});

	it("accepts a break only with a reviewed changelog entry naming its location", () => {
		const after = applyPatch(base, [{ op: "remove", path: "/paths/~1v1~1jobs/post" }]);
		const changes = findBreakingChanges(base, after);
		expect(changes.map((change) => change.location)).toEqual(["POST /v1/jobs"]);
		expect(unacknowledged(changes, "")).toEqual(changes);
		expect(unacknowledged(changes, "- breaking: `POST /v1/jobs` removed, jobs are created by imports")).toEqual(
			changes,
		);
		expect(unacknowledged(changes, "- breaking: `GET /v1/jobs` removed. Reviewed-by: ana")).toEqual(changes);
		expect(
			unacknowledged(changes, "- breaking: `POST /v1/jobs` removed; jobs come from imports. Reviewed-by: ana"),
		).toEqual([]);
	});
});
