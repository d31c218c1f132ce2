/** The Hono environment every route shares: the worker bindings and the request's trace. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Principal } from "./db/access";
import type { TraceContext } from "./observability/trace";

export interface AppEnv {
	Bindings: Env;
	/** `principal` is set by the auth middleware on every operation that needs a key. */
	Variables: { trace: TraceContext; principal: Principal; requestStartedAt: string };
}

export type App = OpenAPIHono<AppEnv>;
