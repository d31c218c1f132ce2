/** The Worker: HTTP through the app factory, queues through the stage registry, crons through the task table. */
import { createApp } from "./app";
import { runScheduled } from "./maintenance/tasks";
import { dispatchBatch } from "./pipeline/dispatch";
import "./processes/registry";

const app = createApp();

export default {
	fetch: (request, env, ctx) => app.fetch(request, env, ctx),
	queue: (batch, env) => dispatchBatch(batch, env),
	scheduled: (controller, env) => runScheduled(controller.cron, env, controller.scheduledTime),
} satisfies ExportedHandler<Env>;
