import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { scheduledTasks } from "../src/maintenance/tasks";

describe("cron triggers", () => {
	it("are exactly the expressions the task table runs", () => {
		const config = parse(readFileSync("wrangler.toml", "utf8")) as { triggers?: { crons?: string[] } };
		expect([...(config.triggers?.crons ?? [])].sort()).toEqual(Object.keys(scheduledTasks).sort());
	});
});
