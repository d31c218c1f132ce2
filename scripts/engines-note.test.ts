import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { satisfies, unmet } from "./engines-note";

const ROOT = join(import.meta.dirname, "..");

describe("engines-note", () => {
	it("reads the engines ranges the lockfile holds", () => {
		expect(satisfies([20, 20, 2], ">=22")).toBe(false);
		expect(satisfies([20, 20, 2], ">= 20.19.0")).toBe(true);
		expect(satisfies([20, 20, 2], "^20.19.0 || >=22.12.0")).toBe(true);
		expect(satisfies([20, 18, 0], "^20.19.0 || >=22.12.0")).toBe(false);
		expect(satisfies([23, 0, 0], "^22.12.0 || ^24.0.0 || >=26.0.0")).toBe(false);
		expect(satisfies([24, 9, 0], "^22.12.0 || ^24.0.0 || >=26.0.0")).toBe(true);
		// A form it does not read counts as met: the note never claims more than npm would.
		expect(satisfies([20, 0, 0], "20.x")).toBe(true);
	});

	it("finds no package that the `node` devDependency, which runs the npm scripts, does not meet", () => {
		const lockfile = readFileSync(join(ROOT, "package-lock.json"), "utf8");
		const { devDependencies } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
			devDependencies: Record<string, string>;
		};
		const [major = 0, minor = 0, patch = 0] = (devDependencies.node ?? "").split(".").map(Number);
		expect(major).toBeGreaterThanOrEqual(22);
		expect(unmet(lockfile, [major, minor, patch])).toEqual([]);
		// What npm on Node 20 warns about, and this note summarises, is wrangler among others.
		expect(unmet(lockfile, [20, 20, 2])).toContain("wrangler");
	});
});
