/** The Hono environment every route shares: the worker bindings and the request's trace. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { TraceContext } from "./observability/trace";

export interface AppEnv {
	Bindings: Env;
	Variables: { trace: TraceContext };
}

export type App = OpenAPIHono<AppEnv>;
