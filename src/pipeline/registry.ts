/**
 * Queue name → stage handler. The worker's queue() dispatches through this map only; a new
 * stage is one entry in src/pipeline/stages.ts plus its handler here.
 */
import { computeStage } from "./compute/handler";
import { deadLetterStage } from "./dead-letter/handler";
import { histogramStage } from "./histogram/handler";
import { ingestStage } from "./ingest/handler";
import { publishStage } from "./publish/handler";
import type { StageHandler } from "./stage";
import { deadLetterQueue, pipelineStages, type StageName, stageNames } from "./stages";
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
	stage: StageName | null;
	name: string;
	maxRetries: number;
	/** The dead-letter consumer records messages of jobs that have already ended. */
	acceptsEndedJobs: boolean;
	/** Messages run one at a time in the isolate (src/isolate-memory.ts). */
	heavy: boolean;
	handler: StageHandler;
}

export const queueConsumers: ReadonlyMap<string, QueueConsumer> = new Map<string, QueueConsumer>([
	...stageNames.map((stage): [string, QueueConsumer] => [
		pipelineStages[stage].queue,
		{
			stage,
			name: stage,
			maxRetries: pipelineStages[stage].maxRetries,
			acceptsEndedJobs: false,
			heavy: pipelineStages[stage].heavy,
			handler: stageHandlers[stage],
		},
	]),
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
