import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { deadLetterQueue, pipelineStages } from "./src/pipeline/stages";

// Deliver queue batches at once in tests instead of waiting for wrangler.toml's batch timeout.
const queueConsumers = Object.fromEntries(
	[...Object.values(pipelineStages), deadLetterQueue].map(({ queue }) => [queue, { maxBatchTimeout: 0.05 }]),
);

export default defineConfig(async () => {
	const migrations = await readD1Migrations("migrations");
	return {
		plugins: [
			cloudflareTest({
				wrangler: { configPath: "./wrangler.toml" },
				miniflare: {
					// Tests exercise multi-strip plans on small fixtures and must not wait for backoff.
					bindings: {
						TEST_MIGRATIONS: migrations,
						STRIP_BUDGET_BYTES: 262144,
						RETRY_BASE_DELAY_SECONDS: 0,
					},
					queueConsumers,
				},
			}),
		],
		test: {
			include: ["test/**/*.test.ts"],
			setupFiles: ["./test/setup/apply-migrations.ts"],
			testTimeout: 30_000,
			// Request and stage logs are shown for failing tests only.
			silent: "passed-only" as const,
		},
	};
});
