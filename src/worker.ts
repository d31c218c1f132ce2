/**
 * The Worker: HTTP through the app factory, the webhooks queue to its deliverer and every other
 * queue through the stage registry, crons through the task table.
 */
import { createApp } from "./app";
import { topLevelResourceName } from "./environment-names";
import { runScheduled } from "./maintenance/tasks";
import { dispatchBatch } from "./pipeline/dispatch";
import { webhookQueue } from "./pipeline/stages";
import "./processes/registry";
import { deliverWebhookBatch } from "./webhooks/delivery";

const app = createApp();

export default {
	fetch: (request, env, ctx) => app.fetch(request, env, ctx),
	// A deployed environment's queues carry its name (eo-edge-webhooks-staging, src/environment-names.ts).
	queue: (batch, env) =>
		topLevelResourceName(batch.queue, env.ENVIRONMENT ?? "") === webhookQueue.queue
			? deliverWebhookBatch(batch, env)
			: dispatchBatch(batch, env),
	scheduled: (controller, env) => runScheduled(controller.cron, env, controller.scheduledTime),
} satisfies ExportedHandler<Env>;
