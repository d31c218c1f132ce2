/**
 * The pipeline's stages as data: queue, producer binding and retry policy of each. It has no
 * imports so that scripts/check-stages.ts can hold it against wrangler.toml outside workerd;
 * src/pipeline/registry.ts attaches a handler to every entry.
 */

/**
 * `heavy`: a message may hold megabytes (headers, decoded blocks, overviews, a preview), so the
 * dispatcher runs it alone in its isolate (see src/isolate-memory.ts for the budget); a heavy
 * stage's consumer takes batches of one, where more would only wait. Light stages settle a
 * whole batch at once.
 */
export interface StageDefinition {
	queue: string;
	/** The Env binding that sends to the queue. */
	producer: string;
	maxRetries: number;
	/** The job's progress when the stage starts (0 to 1). */
	progress: number;
	heavy: boolean;
	/**
	 * A stage that runs once per window of the job's plan: "first" computes each window's partial
	 * result, "second" revisits each window once every first-pass partial is known.
	 */
	windows?: "first" | "second";
}

export const pipelineStages = {
	ingest: { queue: "eo-edge-ingest", producer: "INGEST_QUEUE", maxRetries: 3, progress: 0.02, heavy: false },
	validate: { queue: "eo-edge-validate", producer: "VALIDATE_QUEUE", maxRetries: 3, progress: 0.05, heavy: true },
	compute: {
		queue: "eo-edge-compute",
		producer: "COMPUTE_QUEUE",
		maxRetries: 3,
		progress: 0.1,
		heavy: true,
		windows: "first",
	},
	histogram: {
		queue: "eo-edge-histogram",
		producer: "HISTOGRAM_QUEUE",
		maxRetries: 3,
		progress: 0.85,
		heavy: true,
		windows: "second",
	},
	store: { queue: "eo-edge-store", producer: "STORE_QUEUE", maxRetries: 3, progress: 0.9, heavy: true },
	publish: { queue: "eo-edge-publish", producer: "PUBLISH_QUEUE", maxRetries: 3, progress: 0.95, heavy: true },
} as const satisfies Record<string, StageDefinition>;

export type StageName = keyof typeof pipelineStages;

export const stageNames = Object.keys(pipelineStages) as StageName[];

/** Messages a stage gives up on land here; its consumer records them against their job. */
export const deadLetterQueue = { queue: "eo-edge-dlq", maxRetries: 3 } as const;

/**
 * Webhook deliveries (src/webhooks/delivery.ts) run on their own queue, off the jobs' path. Its
 * consumer counts attempts in D1 and schedules its own retries; the queue's retries only cover a
 * failure of the consumer itself. It has no dead-letter queue: that one's consumer fails jobs,
 * and an undelivered webhook must not. The outbox row is its dead letter, and the cron resends it.
 */
export const webhookQueue = { queue: "eo-edge-webhooks", producer: "WEBHOOKS_QUEUE", maxRetries: 5 } as const;
