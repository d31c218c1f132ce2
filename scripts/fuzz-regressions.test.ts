// Mutants the fuzzer once found unclassified, replayed through `scripts/fuzz.ts --case`: each must
// now be refused with a RasterInputError (or read cleanly).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

const cases = [
	// JPEG header bit flips that made a frame smaller than its tile: readRasters read past the block.
	{ seed: 981093502, iterations: 8000, index: 7812 },
];

describe("fuzz regressions", () => {
	it.each(cases)(
		"seed $seed case $index is classified",
		({ seed, iterations, index }) => {
			const run = spawnSync(
				"npx",
				["tsx", "scripts/fuzz.ts", "--iterations", String(iterations), "--seed", String(seed), "--case", String(index)],
				{ cwd: ROOT, encoding: "utf8", timeout: 120_000 },
			);
			expect(run.stdout).toMatch(/: (refused|read)\b/);
			expect(run.stdout).not.toMatch(/unclassified/);
		},
		150_000,
	);
});
