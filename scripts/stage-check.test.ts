import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findStageProblems } from "./stage-check";

const wranglerToml = readFileSync("wrangler.toml", "utf8");

/** wrangler.toml with one `[[queues.consumers]]` or `[[queues.producers]]` table edited. */
function editTable(kind: "consumers" | "producers", queue: string, edit: (table: string) => string): string {
	const tables = wranglerToml.split(/(?=\[\[queues\.)/);
	const queueLine = new RegExp(`^queue = "${queue}"$`, "m");
	const index = tables.findIndex((table) => table.startsWith(`[[queues.${kind}]]`) && queueLine.test(table));
	if (index < 0) throw new Error(`no ${kind} table for ${queue}`);
	return tables.map((table, position) => (position === index ? edit(table) : table)).join("");
}

describe("stage registry check", () => {
	it("accepts the committed wrangler.toml", () => {
		expect(findStageProblems(wranglerToml)).toEqual([]);
	});

	it("reports a compute window's budget over a heavy message's share of the isolate", () => {
		const config = wranglerToml.replace(/^STRIP_BUDGET_BYTES = \d+$/m, "STRIP_BUDGET_BYTES = 67108865");
		expect(findStageProblems(config)).toEqual([
			"STRIP_BUDGET_BYTES (67108865) exceeds a heavy message's 67108864 bytes (src/isolate-memory.ts)",
		]);
	});

	it("reports a stage whose queue has no consumer", () => {
		const config = editTable("consumers", "eo-edge-store", () => "");
		expect(findStageProblems(config)).toEqual(["stage store: queue eo-edge-store has no consumer in wrangler.toml"]);
	});

	it("reports a consumer with no stage", () => {
		const config = `${wranglerToml}\n[[queues.consumers]]\nqueue = "eo-edge-orphan"\n`;
		expect(findStageProblems(config)).toEqual(["consumer of eo-edge-orphan has no stage in the registry"]);
	});

	it("reports a producer binding nobody sends to", () => {
		const config = `${wranglerToml}\n[[queues.producers]]\nbinding = "SPARE_QUEUE"\nqueue = "eo-edge-spare"\n`;
		expect(findStageProblems(config)).toEqual([
			"producer binding SPARE_QUEUE (eo-edge-spare) is not used by any stage",
		]);
	});

	it("reports a missing producer and a producer aimed at another queue", () => {
		const missing = editTable("producers", "eo-edge-publish", () => "");
		expect(findStageProblems(missing)).toEqual([
			"stage publish: producer binding PUBLISH_QUEUE is missing from wrangler.toml",
		]);
		const misrouted = editTable("producers", "eo-edge-compute", (table) =>
			table.replace('"eo-edge-compute"', '"eo-edge-store"'),
		);
		expect(findStageProblems(misrouted)).toEqual([
			"stage compute: producer COMPUTE_QUEUE sends to eo-edge-store, the registry says eo-edge-compute",
		]);
	});

	it("reports a heavy stage that takes batches of more than one", () => {
		const batched = editTable("consumers", "eo-edge-publish", (table) =>
			table.replace("max_batch_size = 1", "max_batch_size = 10"),
		);
		expect(findStageProblems(batched)).toEqual([
			"stage publish: heavy, so its messages run one at a time; max_batch_size must be 1, not 10",
		]);
	});

	it("reports a retry policy or dead-letter queue the dispatcher does not expect", () => {
		const retries = editTable("consumers", "eo-edge-validate", (table) =>
			table.replace("max_retries = 3", "max_retries = 5"),
		);
		expect(findStageProblems(retries)).toEqual([
			"stage validate: max_retries is 5 in wrangler.toml but 3 in the registry",
		]);
		const noDeadLetter = editTable("consumers", "eo-edge-ingest", (table) =>
			table.replace(/dead_letter_queue = "eo-edge-dlq"\n/, ""),
		);
		expect(findStageProblems(noDeadLetter)).toEqual([
			"stage ingest: consumer of eo-edge-ingest must dead-letter to eo-edge-dlq",
		]);
		const dlqRetries = editTable("consumers", "eo-edge-dlq", (table) =>
			table.replace("max_retries = 3", "max_retries = 1"),
		);
		expect(findStageProblems(dlqRetries)).toEqual([
			"dead-letter queue: max_retries is 1 in wrangler.toml but 3 in the registry",
		]);
		const noDlqConsumer = editTable("consumers", "eo-edge-dlq", () => "");
		expect(findStageProblems(noDlqConsumer)).toEqual(["dead-letter queue eo-edge-dlq has no consumer"]);
	});
});
