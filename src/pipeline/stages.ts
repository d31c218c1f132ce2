/**
 * The pipeline's stages as data: queue, producer binding and retry policy of each. It has no
 * imports so that scripts/check-stages.ts can hold it against wrangler.toml outside workerd;
 * src/pipeline/registry.ts attaches a handler to every entry.
 */

export const pipelineStages = {
	ingest: { queue: "eo-edge-ingest", producer: "INGEST_QUEUE", maxRetries: 3, progress: 0.02 },
	validate: { queue: "eo-edge-validate", producer: "VALIDATE_QUEUE", maxRetries: 3, progress: 0.05 },
	compute: { queue: "eo-edge-compute", producer: "COMPUTE_QUEUE", maxRetries: 3, progress: 0.1 },
	store: { queue: "eo-edge-store", producer: "STORE_QUEUE", maxRetries: 3, progress: 0.9 },
	publish: { queue: "eo-edge-publish", producer: "PUBLISH_QUEUE", maxRetries: 3, progress: 0.95 },
} as const;

export type StageName = keyof typeof pipelineStages;

export const stageNames = Object.keys(pipelineStages) as StageName[];

/** Messages a stage gives up on land here; its consumer records them against their job. */
export const deadLetterQueue = { queue: "eo-edge-dlq", maxRetries: 3 } as const;

/** Share of a job's progress that compute strips fill, between compute start and store. */
export function computeProgress(done: number, total: number): number {
	const start = pipelineStages.compute.progress;
	return start + (pipelineStages.store.progress - start) * (total === 0 ? 1 : done / total);
}
