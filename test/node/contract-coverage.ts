/**
 * Vitest global setup of the workerd suite: after the run it gathers the (operation, status)
 * pairs each test recorded (test/setup/contract.ts), writes them to
 * build/test-reports/contract-coverage.json, and, when every test file ran, fails the run if an
 * operation of openapi/v1.json was never exercised, so a new operation comes with tests that
 * hold it to the document. A run of some files only reports, since it covers only what it ran.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

const REPORT = join("build", "test-reports", "contract-coverage.json");
const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);

function documentedOperations(): string[] {
	const document = JSON.parse(readFileSync("openapi/v1.json", "utf8")) as { paths: Record<string, object> };
	return Object.entries(document.paths).flatMap(([path, item]) =>
		Object.keys(item)
			.filter((method) => METHODS.has(method))
			.map((method) => `${method.toUpperCase()} ${path}`),
	);
}

export default function contractCoverage(project: TestProject) {
	return async function checkContractCoverage(): Promise<void> {
		const modules = project.vitest.state.getTestModules();
		const pairs = modules.flatMap((module) =>
			[...module.children.allTests()].flatMap(
				(test) => (test.meta() as { contractCoverage?: string[] }).contractCoverage ?? [],
			),
		);
		const seen = [...new Set(pairs)].sort();
		const operations = documentedOperations();
		const unexercised = operations.filter((operation) => !seen.some((pair) => pair.startsWith(`${operation} `)));
		mkdirSync(join("build", "test-reports"), { recursive: true });
		writeFileSync(REPORT, `${JSON.stringify({ seen, unexercised }, null, 2)}\n`);

		const { testFiles } = await project.globTestFiles();
		const ran = new Set(modules.map((module) => module.moduleId));
		const everyFile = testFiles.every((file) => ran.has(file)) && !project.vitest.config.testNamePattern;
		if (everyFile && unexercised.length > 0) {
			throw new Error(
				`contract coverage: no test exercised ${unexercised.join(", ")}; drive each through test/helpers.ts so its answers are held to openapi/v1.json (see ${REPORT})`,
			);
		}
	};
}
