/** The Worker: HTTP through the app factory, queues through the stage registry. */
import { createApp } from "./app";
import { dispatchBatch } from "./pipeline/dispatch";

const app = createApp();

export default {
	fetch: (request, env, ctx) => app.fetch(request, env, ctx),
	queue: (batch, env) => dispatchBatch(batch, env),
} satisfies ExportedHandler<Env>;
