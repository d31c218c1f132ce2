/**
 * Finds where wrangler.toml and the stage registry disagree: a consumer with no stage, a stage
 * with no consumer, a producer binding nobody sends to, a retry policy or dead-letter queue
 * that differs from what the dispatcher assumes, a heavy stage taking batches of more than one,
 * a compute window's budget that leaves no room in a heavy message for the kept Wasm instances.
 */
import { parse } from "smol-toml";
import { HEAVY_MESSAGE_BYTES } from "../src/isolate-memory";
import { deadLetterQueue, pipelineStages, stageNames, webhookQueue } from "../src/pipeline/stages";

interface WranglerConfig {
	vars?: { STRIP_BUDGET_BYTES?: number };
	queues?: {
		producers?: { binding: string; queue: string }[];
		consumers?: { queue: string; max_retries?: number; max_batch_size?: number; dead_letter_queue?: string }[];
	};
}

/** Wrangler's defaults when max_retries or max_batch_size is not set. */
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_MAX_BATCH_SIZE = 10;

/** Every disagreement between a wrangler.toml text and the stage registry. */
export function findStageProblems(wranglerToml: string, configPath = "wrangler.toml"): string[] {
	const config = parse(wranglerToml) as WranglerConfig;
	const problems: string[] = [];
	const producers = config.queues?.producers ?? [];
	const consumers = new Map((config.queues?.consumers ?? []).map((consumer) => [consumer.queue, consumer]));

	for (const stage of stageNames) {
		const { queue, producer, maxRetries, heavy } = pipelineStages[stage];
		const consumer = consumers.get(queue);
		if (!consumer) problems.push(`stage ${stage}: queue ${queue} has no consumer in ${configPath}`);
		else {
			const retries = consumer.max_retries ?? DEFAULT_MAX_RETRIES;
			if (retries !== maxRetries) {
				problems.push(`stage ${stage}: max_retries is ${retries} in ${configPath} but ${maxRetries} in the registry`);
			}
			const batchSize = consumer.max_batch_size ?? DEFAULT_MAX_BATCH_SIZE;
			if (heavy && batchSize !== 1) {
				problems.push(
					`stage ${stage}: heavy, so its messages run one at a time; max_batch_size must be 1, not ${batchSize}`,
				);
			}
			if (consumer.dead_letter_queue !== deadLetterQueue.queue) {
				problems.push(`stage ${stage}: consumer of ${queue} must dead-letter to ${deadLetterQueue.queue}`);
			}
		}
		const binding = producers.find((candidate) => candidate.binding === producer);
		if (!binding) problems.push(`stage ${stage}: producer binding ${producer} is missing from ${configPath}`);
		else if (binding.queue !== queue) {
			problems.push(`stage ${stage}: producer ${producer} sends to ${binding.queue}, the registry says ${queue}`);
		}
	}

	const stageQueues = new Set<string>(stageNames.map((stage) => pipelineStages[stage].queue));
	for (const queue of consumers.keys()) {
		if (!stageQueues.has(queue) && queue !== deadLetterQueue.queue && queue !== webhookQueue.queue) {
			problems.push(`consumer of ${queue} has no stage in the registry`);
		}
	}
	const deadLetterConsumer = consumers.get(deadLetterQueue.queue);
	if (!deadLetterConsumer) problems.push(`dead-letter queue ${deadLetterQueue.queue} has no consumer`);
	else if ((deadLetterConsumer.max_retries ?? DEFAULT_MAX_RETRIES) !== deadLetterQueue.maxRetries) {
		problems.push(
			`dead-letter queue: max_retries is ${deadLetterConsumer.max_retries ?? DEFAULT_MAX_RETRIES} in ${configPath} but ${deadLetterQueue.maxRetries} in the registry`,
		);
	}

	const webhookConsumer = consumers.get(webhookQueue.queue);
	if (!webhookConsumer) problems.push(`webhooks: queue ${webhookQueue.queue} has no consumer in ${configPath}`);
	else {
		if ((webhookConsumer.max_retries ?? DEFAULT_MAX_RETRIES) !== webhookQueue.maxRetries) {
			problems.push(`webhooks: max_retries must be ${webhookQueue.maxRetries} in ${configPath}`);
		}
		if (webhookConsumer.dead_letter_queue === deadLetterQueue.queue) {
			problems.push(`webhooks: must not dead-letter to ${deadLetterQueue.queue}, whose consumer fails jobs`);
		}
	}
	if (
		!producers.some(
			(candidate) => candidate.binding === webhookQueue.producer && candidate.queue === webhookQueue.queue,
		)
	) {
		problems.push(`webhooks: producer binding ${webhookQueue.producer} must send to ${webhookQueue.queue}`);
	}

	const registryProducers = new Set<string>([
		...stageNames.map((stage) => pipelineStages[stage].producer),
		webhookQueue.producer,
	]);
	for (const producer of producers) {
		if (!registryProducers.has(producer.binding)) {
			problems.push(`producer binding ${producer.binding} (${producer.queue}) is not used by any stage`);
		}
	}

	const stripBudget = config.vars?.STRIP_BUDGET_BYTES ?? 0;
	if (stripBudget > HEAVY_MESSAGE_BYTES) {
		problems.push(
			`STRIP_BUDGET_BYTES (${stripBudget}) exceeds a heavy message's ${HEAVY_MESSAGE_BYTES} bytes (src/isolate-memory.ts)`,
		);
	}
	return problems;
}
