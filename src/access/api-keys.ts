/**
 * API keys: what a key looks like, how it is stored (only its SHA-256), and the scopes it can
 * carry. Shared by the worker's auth and the `npm run keys` admin CLI.
 */
import { randomHex, sha256Hex } from "../ids";

export const scopes = [
	"jobs:read",
	"jobs:write",
	"uploads:write",
	"fields:read",
	"fields:write",
	"webhooks:read",
	"webhooks:write",
	"ops:read",
] as const;
export type Scope = (typeof scopes)[number];

/**
 * What a tenant's key carries unless its creator says otherwise: every scope but `ops:read`,
 * which reads every tenant's failures and is the operator's alone.
 */
export const tenantScopes: readonly Scope[] = scopes.filter((scope) => scope !== "ops:read");

const KEY_TAG = "eoe_";
/** 32 random bytes: 256 bits, well past the 128 a key needs to be unguessable. */
const KEY_RANDOM_BYTES = 32;
/** How much of a key is kept in clear to tell keys apart in listings. */
const PREFIX_LENGTH = 12;

/**
 * The documented key of local development, seeded into the local D1 only (by `npm run dev`),
 * so the README walk-through works in two commands. It is public: never give it to a
 * deployed database.
 */
export const DEVELOPMENT_API_KEY = "eoe_dev_local_only_5f3c1e9a7b2d4c6e8f0a1b3c5d7e9f10";
export const DEVELOPMENT_TENANT = "dev";

export function newApiKey(): string {
	return `${KEY_TAG}${randomHex(KEY_RANDOM_BYTES)}`;
}

export function keyPrefix(key: string): string {
	return key.slice(0, PREFIX_LENGTH);
}

export function hashApiKey(key: string): Promise<string> {
	return sha256Hex(key);
}

export function parseScopes(list: string): Scope[] {
	const requested = list
		.split(/[\s,]+/)
		.map((scope) => scope.trim())
		.filter(Boolean);
	const unknown = requested.filter((scope) => !(scopes as readonly string[]).includes(scope));
	if (unknown.length > 0) throw new Error(`unknown scope(s) ${unknown.join(", ")}; choose from ${scopes.join(", ")}`);
	return requested as Scope[];
}
