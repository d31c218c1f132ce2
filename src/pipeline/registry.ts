/**
 * Queue name → stage handler. The worker's queue() dispatches through this map only; a new
 * stage is one entry in src/pipeline/stages.ts plus its handler here (or, in a test build, one
 * registerStage call), and runs for the processes whose sequence names it.
 */
import { computeStage } from "./compute/handler";
import { deadLetterStage } from "./dead-letter/handler";
import { histogramStage } from "./histogram/handler";
import { ingestStage } from "./ingest/handler";
import { publishStage } from "./publish/handler";
import type { StageHandler } from "./stage";
import { addStageDefinition } from "./stage-table";
import { deadLetterQueue, pipelineStages, type StageDefinition, type StageName, stageNames } from "./stages";
import { storeStage } from "./store/handler";
import { validateStage } from "./validate/handler";

export const stageHandlers: Record<StageName, StageHandler> = {
	ingest: ingestStage,
	validate: validateStage,
	compute: computeStage,
	histogram: histogramStage,
	store: storeStage,
	publish: publishStage,
};

export interface QueueConsumer {
	/** The stage a job is in while this queue works on it; null for the dead-letter queue. */
	stage: string | null;
	name: string;
	maxRetries: number;
	/** The dead-letter consumer records messages of jobs that have already ended. */
	acceptsEndedJobs: boolean;
	/** Messages run one at a time in the isolate (src/isolate-memory.ts). */
	heavy: boolean;
	handler: StageHandler;
}

function stageConsumer(stage: string, definition: StageDefinition, handler: StageHandler): [string, QueueConsumer] {
	return [
		definition.queue,
		{
			stage,
			name: stage,
			maxRetries: definition.maxRetries,
			acceptsEndedJobs: false,
			heavy: definition.heavy,
			handler,
		},
	];
}

const consumers = new Map<string, QueueConsumer>([
	...stageNames.map((stage) => stageConsumer(stage, pipelineStages[stage], stageHandlers[stage])),
	[
		deadLetterQueue.queue,
		{
			stage: null,
			name: "dead-letter",
			maxRetries: deadLetterQueue.maxRetries,
			acceptsEndedJobs: true,
			heavy: false,
			handler: deadLetterStage,
		},
	],
]);

export const queueConsumers: ReadonlyMap<string, QueueConsumer> = consumers;

/**
 * Adds a stage beside the production table: its queue's consumer and its definition, which sends
 * and job sequences find by name. Production stages are entries of ./stages.ts, held against
 * wrangler.toml by `npm run check:stages`; this is for builds that bind more queues (tests).
 */
export function registerStage(stage: string, definition: StageDefinition, handler: StageHandler): void {
	addStageDefinition(stage, definition);
	const [queue, consumer] = stageConsumer(stage, definition, handler);
	consumers.set(queue, consumer);
}
