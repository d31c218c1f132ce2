/**
 * Who may call: per-operation middleware that resolves the Bearer key to its tenant, checks
 * the operation's scope, and counts the request against the key's per-minute rate limit.
 * Routes then read `c.get("principal")` and filter everything by its tenant.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context";
import { countRequest, findPrincipal, type Principal } from "../db/access";
import { ApiError } from "../errors/api-error";
import { hashApiKey, type Scope } from "./api-keys";

const REALM = 'Bearer realm="eo-edge"';
const WINDOW_SECONDS = 60;

function bearerKey(header: string | undefined): string | null {
	const match = header ? /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(header) : null;
	return match?.[1] ?? null;
}

/** Counts this request; RateLimit-* headers tell the client where it stands (IETF draft). */
async function rateLimit(db: D1Database, principal: Principal, nowMs: number): Promise<Record<string, string>> {
	const windowStart = Math.floor(nowMs / 1000 / WINDOW_SECONDS) * WINDOW_SECONDS;
	const count = await countRequest(db, principal.keyId, windowStart);
	const limit = principal.quotas.maxRequestsPerMinute;
	const reset = Math.max(1, windowStart + WINDOW_SECONDS - Math.floor(nowMs / 1000));
	const headers = {
		"RateLimit-Limit": String(limit),
		"RateLimit-Remaining": String(Math.max(0, limit - count)),
		"RateLimit-Reset": String(reset),
		"RateLimit-Policy": `${limit};w=${WINDOW_SECONDS}`,
	};
	if (count > limit) {
		throw new ApiError(
			"rate-limited",
			`This key made ${count} requests in the current ${WINDOW_SECONDS} s window; the limit is ${limit}.`,
			{ headers: { ...headers, "Retry-After": String(reset) } },
		);
	}
	return headers;
}

export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
	return async function authenticate(c, next) {
		const key = bearerKey(c.req.header("authorization"));
		if (key === null) {
			throw new ApiError("unauthorized", "Send an API key as Authorization: Bearer <key>.", {
				headers: { "WWW-Authenticate": REALM },
			});
		}
		const principal = await findPrincipal(c.env.DB, await hashApiKey(key));
		if (!principal) {
			throw new ApiError("unauthorized", "The API key is unknown or has been revoked.", {
				headers: { "WWW-Authenticate": `${REALM}, error="invalid_token"` },
			});
		}
		for (const [name, value] of Object.entries(await rateLimit(c.env.DB, principal, Date.now()))) {
			c.header(name, value);
		}
		if (!principal.scopes.includes(scope)) {
			throw new ApiError(
				"forbidden",
				`This operation needs the ${scope} scope; the key has ${principal.scopes.join(", ") || "no scopes"}.`,
				{ headers: { "WWW-Authenticate": `${REALM}, error="insufficient_scope", scope="${scope}"` } },
			);
		}
		c.set("principal", principal);
		await next();
	};
}

/** The OpenAPI security requirement of an operation that needs `scope`. */
export function bearerWith(scope: Scope) {
	return [{ bearerAuth: [scope] }];
}
