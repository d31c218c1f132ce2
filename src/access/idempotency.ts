/**
 * Idempotency-Key on the creating operations (POST /v1/uploads, POST /v1/jobs): within 24 h
 * the same key and the same request get the first response again, and the same key with a
 * different request is a 409. A request holds its key on a lease: if it fails before creating
 * anything it gives the key back, and if it crashed the key is free again once the lease runs
 * out. What it creates (a job, an upload) is bound to its key in the transaction that records
 * it, so a retry after a failure past that point answers with it instead of making another.
 */
import {
	claimIdempotencyKey,
	type IdempotencyRecord,
	releaseIdempotencyKey,
	saveIdempotentResponse,
} from "../db/access";
import { ApiError } from "../errors/api-error";
import { randomHex } from "../ids";

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * How long a claim lasts without a stored response or a created resource: past it, the request
 * holding it is taken for crashed and a retry may run. An upload streams up to 100 MiB within
 * its lease, a job submission only reads D1 and sends one message.
 */
export const IDEMPOTENCY_LEASE_MS = { createUpload: 15 * 60_000, createJob: 60_000 } as const;

export interface IdempotencyScope {
	db: D1Database;
	tenantId: string;
	operation: "createUpload" | "createJob";
	key: string;
}

/** The claim this request holds; its token proves it still does when it records something. */
export interface HeldClaim extends IdempotencyScope {
	token: string;
}

export interface StoredResponse {
	status: number;
	body: unknown;
	location: string | null;
}

/** The request's Idempotency-Key, or null without one; a malformed key is a 422. */
export function readIdempotencyKey(header: string | undefined): string | null {
	if (header === undefined) return null;
	if (!KEY_PATTERN.test(header)) {
		const message = "must be 1 to 255 visible ASCII characters";
		throw new ApiError("validation-failed", `Idempotency-Key ${message}.`, {
			errors: [{ path: "header.Idempotency-Key", message }],
		});
	}
	return header;
}

/** JSON with object keys sorted, so equal requests hash alike whatever their key order. */
export function canonicalJson(value: unknown): string {
	return JSON.stringify(value, (_key, item: unknown) =>
		item && typeof item === "object" && !Array.isArray(item)
			? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
			: item,
	);
}

/**
 * Claims the key for this request: `held` when the request should run, or what an earlier
 * request with the same key left (pass it to {@link replayFor}). `requestHash` may be null when
 * it is only known once the body has been read (uploads).
 */
export async function claim(
	scope: IdempotencyScope,
	requestHash: string | null,
): Promise<{ held: HeldClaim } | { earlier: IdempotencyRecord }> {
	const now = Date.now();
	const token = randomHex(16);
	const earlier = await claimIdempotencyKey(scope.db, {
		tenantId: scope.tenantId,
		operation: scope.operation,
		key: scope.key,
		token,
		requestHash,
		at: new Date(now).toISOString(),
		leaseUntil: new Date(now + IDEMPOTENCY_LEASE_MS[scope.operation]).toISOString(),
		since: new Date(now - IDEMPOTENCY_WINDOW_MS).toISOString(),
	});
	return earlier ? { earlier } : { held: { ...scope, token } };
}

/** What to answer a repeated request with: the first response, or what the first request created. */
export type Replay = { response: StoredResponse } | { resourceId: string };

/**
 * The first response for the same request, or the resource it created when it stored no
 * response (it failed after creating it); a 409 for a different request or one still running.
 */
export function replayFor(scope: IdempotencyScope, earlier: IdempotencyRecord, requestHash: string): Replay {
	if (earlier.requestHash !== null && earlier.requestHash !== requestHash) {
		throw new ApiError(
			"idempotency-key-reused",
			`Idempotency-Key '${scope.key}' was first used with a different request; use a new key for a new request.`,
		);
	}
	if (earlier.response) return { response: earlier.response };
	if (earlier.resourceId) return { resourceId: earlier.resourceId };
	const leaseLeft = earlier.leaseUntil ? Date.parse(earlier.leaseUntil) - Date.now() : 0;
	throw new ApiError(
		"idempotency-key-reused",
		`A request with Idempotency-Key '${scope.key}' is still being processed; retry once it has answered.`,
		{ headers: { "Retry-After": String(Math.max(1, Math.ceil(leaseLeft / 1000))) } },
	);
}

/** Stores the response for replays; a request whose lease was taken over stores nothing. */
export function remember(held: HeldClaim, requestHash: string, response: StoredResponse): Promise<void> {
	return saveIdempotentResponse(held.db, { ...held, requestHash, ...response });
}

/** Gives the key back after a failure, unless something was already created under it. */
export function release(held: HeldClaim): Promise<void> {
	return releaseIdempotencyKey(held.db, held);
}

/** Headers of a replayed response. */
export function replayHeaders(response: StoredResponse): Record<string, string> {
	return { ...(response.location ? { Location: response.location } : {}), "Idempotent-Replayed": "true" };
}
