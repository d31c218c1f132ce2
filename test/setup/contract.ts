/**
 * Every integration test is also a contract test: a violation found by test/contract.ts fails
 * the test that produced it, even when the partner client turned the thrown error into a
 * returned one; and each test hands the (operation, status) pairs it produced to
 * test/node/contract-coverage.ts through its task meta, since test files run in separate
 * workerd runners and only the Node side sees them all.
 */
import { afterEach, expect } from "vitest";
import { takeCoverage, takeViolations } from "../contract";

declare module "vitest" {
	interface TaskMeta {
		contractCoverage?: string[];
	}
}

afterEach(({ task }) => {
	task.meta.contractCoverage = takeCoverage();
	expect(takeViolations(), "exchanges that depart from openapi/v1.json").toEqual([]);
});
