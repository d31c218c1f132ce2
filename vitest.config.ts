import { readFileSync } from "node:fs";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { parse } from "smol-toml";
import { defineConfig } from "vitest/config";
import { DEVELOPMENT_WEBHOOK_SECRETS_KEY } from "./src/webhooks/development-key.ts";
import { outbound } from "./test/node/outbound.ts";

interface WranglerConsumer {
	queue: string;
	max_batch_size?: number;
	max_retries?: number;
	dead_letter_queue?: string;
}

// Miniflare replaces a consumer's whole settings when one is overridden, so every consumer is
// restated from wrangler.toml, with only the batch timeout shortened so tests need not wait.
const wrangler = parse(readFileSync("wrangler.toml", "utf8")) as { queues?: { consumers?: WranglerConsumer[] } };
const queueConsumers = Object.fromEntries(
	(wrangler.queues?.consumers ?? []).map((consumer) => [
		consumer.queue,
		{
			maxBatchSize: consumer.max_batch_size,
			maxRetries: consumer.max_retries,
			deadLetterQueue: consumer.dead_letter_queue,
			maxBatchTimeout: 0.05,
		},
	]),
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
						// Fewer than the windows most test jobs plan, so every job runs the chain of sends.
						WINDOWS_IN_FLIGHT_PER_JOB: 2,
						// R2's smallest part, so the multipart tests need only a few MiB.
						UPLOAD_PART_BYTES: 5242880,
						RETRY_BASE_DELAY_SECONDS: 0,
						// Below test/node/remote-cogs.ts's slow answer, so a timeout can be provoked.
						REMOTE_READ_TIMEOUT_MS: 500,
						// Below test/fixtures/layouts/pixel_big.tif's blocks, so the per-job byte bound can be met.
						REMOTE_MAX_BYTES_PER_JOB: 1048576,
						// The Worker secret of deployments; the tests, like `npm run dev`, use the public development key.
						WEBHOOK_SECRETS_KEY: DEVELOPMENT_WEBHOOK_SECRETS_KEY,
						// Below test/node/webhook-receiver.ts's slow answer, so a timeout can be provoked.
						WEBHOOK_TIMEOUT_MS: 500,
						// The test tenant registers an endpoint in many tests; the limit's own test lowers it.
						WEBHOOKS_MAX_PER_TENANT: 1000,
					},
					queueConsumers,
					// No test reaches the Internet: remote inputs are served from test/fixtures, traces by a collector stand-in.
					outboundService: outbound,
				},
			}),
		],
		test: {
			include: ["test/**/*.test.ts"],
			setupFiles: ["./test/setup/apply-migrations.ts", "./test/setup/contract.ts"],
			// Fails the run when the tests, together, leave an operation of the contract unexercised.
			globalSetup: ["./test/node/contract-coverage.ts"],
			testTimeout: 30_000,
			// Request and stage logs are shown for failing tests only.
			silent: "passed-only" as const,
		},
	};
});
