/**
 * Idempotency-Key on the creating operations (POST /v1/uploads, POST /v1/jobs): within 24 h
 * the same key and the same request get the first response again, and the same key with a
 * different request is a 409. A request that fails gives its key back for a retry.
 */
import {
	claimIdempotencyKey,
	type IdempotencyRecord,
	releaseIdempotencyKey,
	saveIdempotentResponse,
} from "../db/access";
import { ApiError } from "../errors/api-error";

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyScope {
	db: D1Database;
	tenantId: string;
	operation: "createUpload" | "createJob";
	key: string;
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
 * Claims the key for this request: null when the request should run, or what an earlier
 * request with the same key left (pass it to {@link replayFor}). `requestHash` may be null when
 * it is only known once the body has been read (uploads).
 */
export function claim(scope: IdempotencyScope, requestHash: string | null): Promise<IdempotencyRecord | null> {
	const now = Date.now();
	return claimIdempotencyKey(scope.db, {
		tenantId: scope.tenantId,
		operation: scope.operation,
		key: scope.key,
		requestHash,
		at: new Date(now).toISOString(),
		since: new Date(now - IDEMPOTENCY_WINDOW_MS).toISOString(),
	});
}

/** The first response for the same request, or a 409 for a different one or one still running. */
export function replayFor(scope: IdempotencyScope, earlier: IdempotencyRecord, requestHash: string): StoredResponse {
	if (earlier.requestHash !== null && earlier.requestHash !== requestHash) {
		throw new ApiError(
			"idempotency-key-reused",
			`Idempotency-Key '${scope.key}' was first used with a different request; use a new key for a new request.`,
		);
	}
	if (!earlier.response) {
		throw new ApiError(
			"idempotency-key-reused",
			`A request with Idempotency-Key '${scope.key}' is still being processed; retry once it has answered.`,
			{ headers: { "Retry-After": "1" } },
		);
	}
	return earlier.response;
}

export function remember(scope: IdempotencyScope, requestHash: string, response: StoredResponse): Promise<void> {
	return saveIdempotentResponse(scope.db, { ...scope, requestHash, ...response });
}

export function release(scope: IdempotencyScope): Promise<void> {
	return releaseIdempotencyKey(scope.db, scope);
}

/** Headers of a replayed response. */
export function replayHeaders(response: StoredResponse): Record<string, string> {
	return { ...(response.location ? { Location: response.location } : {}), "Idempotent-Replayed": "true" };
}
