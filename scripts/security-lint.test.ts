/**
 * The security lint rules (lint/*.grit, Biome plugins wired in biome.json) run by `npm run lint`:
 * each must flag what it forbids and leave the allowed forms alone.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const BIOME = join(ROOT, "node_modules", ".bin", "biome");
const project = mkdtempSync(join(tmpdir(), "eo-edge-lint-"));
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The repository's plugin settings, pointed at its rule files, in a scratch project. */
const config = JSON.parse(readFileSync(join(ROOT, "biome.json"), "utf8")) as {
	plugins: string[];
	overrides: { includes: string[]; plugins: string[] }[];
};
writeFileSync(
	join(project, "biome.json"),
	JSON.stringify({
		linter: { enabled: true, rules: { recommended: false } },
		plugins: config.plugins.map((plugin) => join(ROOT, plugin)),
		overrides: config.overrides.map((override) => ({
			...override,
			plugins: override.plugins.map((plugin) => join(ROOT, plugin)),
		})),
	}),
);

/** The lines of `source` (written at `path` in the scratch project) that a plugin rule flags. */
function flaggedLines(path: string, source: string): number[] {
	const file = join(project, path);
	mkdirSync(dirname(file), { recursive: true });
	writeFileSync(file, source);
	let output: string;
	try {
		output = execFileSync(BIOME, ["lint", "--colors=off", "--max-diagnostics=none", path], {
			cwd: project,
			encoding: "utf8",
			stdio: ["ignore", "pipe", "pipe"],
		});
	} catch (error) {
		const failed = error as { stdout?: string; stderr?: string };
		output = `${failed.stdout ?? ""}${failed.stderr ?? ""}`;
	}
	const lines = [...output.matchAll(new RegExp(`${path.replaceAll(".", "\\.")}:(\\d+):\\d+ plugin`, "g"))];
	return lines.map((match) => Number(match[1]));
}

describe("security lint rules", () => {
	it("forbid the Function constructor in every form", () => {
		const source = [
			'const a = new Function("x", "return x");',
			'const b = Function("return 1");',
			'const c = globalThis.Function("return 1");',
			"const d = (x: number) => x;",
			"export { a, b, c, d };",
		].join("\n");
		expect(flaggedLines("scripts/code.ts", source)).toEqual([1, 2, 3]);
	});

	it("forbid SQL built from strings, but allow fixed statements and placeholders(list)", () => {
		const source = [
			"declare const db: { prepare(sql: string): unknown };",
			"declare function placeholders(values: readonly unknown[]): string;",
			'const id = "job_1";',
			"const ids = [id];",
			'db.prepare("SELECT * FROM jobs WHERE id = ?");',
			"db.prepare(`SELECT * FROM jobs WHERE id = ?`);",
			// biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the rule under test
			"db.prepare(`SELECT * FROM jobs WHERE id IN (${placeholders(ids)})`);",
			// biome-ignore lint/suspicious/noTemplateCurlyInString: source text for the rule under test
			"db.prepare(`SELECT * FROM jobs WHERE id = '${id}'`);",
			'db.prepare("SELECT * FROM jobs WHERE id = \'" + id + "\'");',
		].join("\n");
		expect(flaggedLines("src/db/sql.ts", source)).toEqual([8, 9]);
	});

	it("forbid fetch() in worker code outside the module that fetches validated input URLs", () => {
		const source = [
			'export const direct = fetch("https://example.com/");',
			'export const global = globalThis.fetch("https://example.com/");',
			"declare const binding: { fetch(request: Request): Promise<Response> };",
			'export const viaBinding = binding.fetch(new Request("https://assets.local/"));',
		].join("\n");
		expect(flaggedLines("src/pipeline/leak.ts", source)).toEqual([1, 2]);
		expect(flaggedLines("src/raster/remote.ts", source)).toEqual([]);
		expect(flaggedLines("scripts/tool.ts", source)).toEqual([]);
	});
});
