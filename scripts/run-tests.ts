/**
 * The test run of `npm test`: the workerd suite (vitest.config.ts) and the Node tooling suite
 * (vitest.node.config.ts), each with the default reporter for people and a JSON report for
 * machines, then one last line `N passed, N failed` from those reports that any CI can read.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const REPORT_DIR = join("build", "test-reports");
const suites = [
	{ name: "workerd", config: "vitest.config.ts" },
	{ name: "node", config: "vitest.node.config.ts" },
];

interface JsonReport {
	numPassedTests: number;
	numFailedTests: number;
	numPendingTests: number;
	numTodoTests: number;
}

mkdirSync(REPORT_DIR, { recursive: true });
let passed = 0;
let failed = 0;
let broken = false;
for (const suite of suites) {
	const report = join(REPORT_DIR, `${suite.name}.json`);
	rmSync(report, { force: true });
	const run = spawnSync(
		"vitest",
		["run", "--config", suite.config, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`],
		{ stdio: "inherit" },
	);
	if (!existsSync(report)) {
		// A suite that could not even start has no totals to add; it still fails the run.
		console.error(`${suite.name} tests wrote no report (exit ${run.status})`);
		broken = true;
		continue;
	}
	const totals = JSON.parse(readFileSync(report, "utf8")) as JsonReport;
	passed += totals.numPassedTests;
	failed += totals.numFailedTests;
	// Skipped or todo tests are not allowed to pile up unnoticed.
	const skipped = totals.numPendingTests + totals.numTodoTests;
	if (skipped > 0) {
		console.error(`${suite.name}: ${skipped} skipped or todo test(s)`);
		broken = true;
	}
	if (run.status !== 0 && totals.numFailedTests === 0) broken = true;
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && !broken ? 0 : 1;
