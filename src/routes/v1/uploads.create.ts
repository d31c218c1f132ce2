/**
 * POST /v1/uploads: stores one GeoTIFF, streamed straight to R2, and reports its header; or,
 * given `Upload-Length: N` and no body, opens an upload in parts (R2 multipart) for files
 * larger than one request may carry. The header is the one the IETF's resumable uploads draft
 * uses; a header rather than a JSON body keeps the operation's body the file itself.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bearerWith, requireScope } from "../../access/auth";
import {
	claim,
	type HeldClaim,
	readIdempotencyKey,
	release,
	remember,
	replayFor,
	replayHeaders,
} from "../../access/idempotency";
import type { App } from "../../context";
import {
	bindIdempotentResource,
	dropUploadReservation,
	reserveUploadBytes,
	settleUploadReservation,
	type TenantQuotas,
	uploadUsage,
} from "../../db/access";
import { insertUploadSession } from "../../db/upload-sessions";
import { findUploads, insertUpload } from "../../db/uploads";
import { ApiError } from "../../errors/api-error";
import { keyedHeaders, locationHeader, problemResponses, responseHeaders } from "../../errors/openapi";
import { hex, newUploadId } from "../../ids";
import { describeError, log } from "../../observability/log";
import type { RasterSummary } from "../../raster/inspect";
import { hasTiffSignature, TIFF_SIGNATURE_BYTES } from "../../raster/tiff-structure";
import { objectKeys } from "../../storage/keys";
import { uploadExample, uploadSessionExample } from "./examples";
import { IdempotencyKeyHeader, renderUpload, renderUploadSession, UploadSchema, UploadSessionSchema } from "./schemas";
import { describeStoredTiff, notATiff, UPLOAD_SESSION_TTL_MS } from "./upload-files";

/** R2 takes at most 10 000 parts per object. */
const MAX_PARTS = 10_000;

/**
 * How long the bytes an upload reserves against the quota hold if its request dies before
 * settling them: a single upload streams up to MAX_UPLOAD_BYTES, opening a session takes one
 * R2 call.
 */
const RESERVATION_LEASE_MS = 15 * 60 * 1000;

const UploadHeaders = IdempotencyKeyHeader.extend({
	"upload-length": z
		.string()
		.regex(/^\d+$/, "must be the file's size in bytes")
		// Anything but digits is reported by the pattern alone.
		.refine(
			(value) => !/^\d+$/.test(value) || Number(value) >= TIFF_SIGNATURE_BYTES,
			`must be at least ${TIFF_SIGNATURE_BYTES}`,
		)
		.optional()
		.openapi({
			param: { name: "upload-length", in: "header" },
			description:
				"Size of the whole file, in bytes, sent without a body: opens an upload in parts instead of storing the body",
			example: "209715200",
		}),
});

const TiffBody = z.string().openapi({ format: "binary", description: "The GeoTIFF file, as raw bytes" });

export const createUploadRoute = createRoute({
	method: "post",
	path: "/v1/uploads",
	operationId: "createUpload",
	tags: ["uploads"],
	summary: "Upload one GeoTIFF",
	middleware: [requireScope("uploads:write")] as const,
	security: bearerWith("uploads:write"),
	description:
		"The body is the file itself (not multipart/form-data), with Content-Length. It is streamed to storage, then its header is read: the response reports size, bands, sample type, nodata and CRS. A file larger than one request may carry (MAX_UPLOAD_BYTES, 100 MiB) is uploaded in parts instead: send `Upload-Length: N` and no body, and the 202 response gives the part size and the URL of every part (PUT each), then POST its complete URL.",
	request: {
		headers: UploadHeaders,
		body: {
			required: false,
			content: { "image/tiff": { schema: TiffBody }, "application/octet-stream": { schema: TiffBody } },
		},
	},
	responses: {
		201: {
			description: "Stored",
			headers: {
				...keyedHeaders,
				...locationHeader("/v1/uploads/upl_0123456789abcdef01234567"),
				...responseHeaders("Idempotent-Replayed"),
			},
			content: { "application/json": { schema: UploadSchema, example: uploadExample } },
		},
		202: {
			description: "An upload in parts is open: PUT every part, then POST complete",
			headers: { ...keyedHeaders, ...locationHeader("/v1/uploads/upl_0123456789abcdef01234567") },
			content: { "application/json": { schema: UploadSessionSchema, example: uploadSessionExample } },
		},
		...problemResponses(400, 401, 403, 409, 411, 413, 415, 422, 429, 503),
	},
});

function declaredLength(header: string | undefined, limit: number): number {
	if (header === undefined || !/^\d+$/.test(header.trim())) {
		throw new ApiError(
			"length-required",
			"Send the file with a Content-Length header (chunked uploads are not accepted).",
		);
	}
	const length = Number(header);
	if (length > limit) {
		throw new ApiError(
			"payload-too-large",
			`The upload is ${length} bytes; the limit is ${limit} bytes. Upload it in parts: POST /v1/uploads with Upload-Length: ${length} and no body.`,
		);
	}
	return length;
}

/** Reads chunks until the signature can be checked; returns them to be written first. */
async function readSignature(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array[]> {
	const chunks: Uint8Array[] = [];
	let received = 0;
	while (received < TIFF_SIGNATURE_BYTES) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		received += value.byteLength;
	}
	const head = new Uint8Array(Math.min(received, TIFF_SIGNATURE_BYTES));
	let filled = 0;
	for (const chunk of chunks) {
		const take = chunk.subarray(0, head.length - filled);
		head.set(take, filled);
		filled += take.length;
		if (filled === head.length) break;
	}
	if (!hasTiffSignature(head)) {
		await reader.cancel();
		throw notATiff();
	}
	return chunks;
}

/** The client sent more or fewer bytes than it declared, or its body broke off. */
class BodyLengthMismatch extends Error {}

/** Workers' incremental SHA-256; typed by hand, since Node's DOM typings of `crypto` lack it. */
function sha256Stream(): DigestStream {
	return new (crypto as unknown as { DigestStream: typeof DigestStream }).DigestStream("SHA-256");
}

/** The SHA-256 of a body that is not kept (a replayed idempotent upload). */
async function digestOf(body: ReadableStream<Uint8Array>): Promise<string> {
	const digest = sha256Stream();
	await body.pipeTo(digest);
	return hex(await digest.digest);
}

/**
 * Streams the body into R2 with its declared length, the body never held whole, and returns
 * its SHA-256 (what an Idempotency-Key compares).
 */
async function storeBody(
	bucket: R2Bucket,
	key: string,
	body: ReadableStream<Uint8Array>,
	length: number,
): Promise<string> {
	const reader = body.getReader();
	const head = await readSignature(reader);
	const digest = sha256Stream();
	const digestWriter = digest.getWriter();
	// Read only on success; on a failed upload the digest rejects and nobody awaits it.
	const sha256 = digest.digest.then(hex);
	sha256.catch(() => undefined);
	const { readable, writable } = new FixedLengthStream(length);
	const stored = bucket.put(key, readable, { httpMetadata: { contentType: "image/tiff" } });
	const pumped = (async () => {
		const writer = writable.getWriter();
		let written = 0;
		const write = async (chunk: Uint8Array) => {
			written += chunk.byteLength;
			if (written > length) throw new BodyLengthMismatch(`the body is longer than its Content-Length of ${length}`);
			await Promise.all([writer.write(chunk), digestWriter.write(chunk)]);
		};
		try {
			for (const chunk of head) await write(chunk);
			for (;;) {
				const next = await reader.read().catch((error: unknown) => {
					throw new BodyLengthMismatch(`the body broke off after ${written} bytes`, { cause: error });
				});
				if (next.done) break;
				await write(next.value);
			}
			if (written !== length) {
				throw new BodyLengthMismatch(`the body has ${written} bytes but Content-Length says ${length}`);
			}
			await Promise.all([writer.close(), digestWriter.close()]);
		} catch (error) {
			await Promise.all([writer.abort(error), digestWriter.abort(error)]).catch(() => undefined);
			throw error;
		}
	})();
	const [storing, pumping] = await Promise.allSettled([stored, pumped]);
	if (pumping.status === "rejected" && pumping.reason instanceof BodyLengthMismatch) {
		throw new ApiError("malformed-request", `${pumping.reason.message}; nothing was stored.`);
	}
	// Otherwise a failure is storage's, not the client's: it surfaces as an internal error.
	if (storing.status === "rejected") throw storing.reason;
	if (pumping.status === "rejected") throw pumping.reason;
	return sha256;
}

function startOfUtcDay(at: Date): Date {
	return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

/**
 * Reserves `length` bytes of today's (UTC) upload quota for upload `id`, or refuses with 429:
 * stored uploads, open sessions and uploads still streaming all count, and one statement
 * decides, so simultaneous uploads cannot together pass the quota.
 */
async function reserveDailyUploadBytes(
	db: D1Database,
	upload: { id: string; tenantId: string; bytes: number },
	quotas: TenantQuotas,
): Promise<void> {
	const now = new Date();
	const dayStart = startOfUtcDay(now).toISOString();
	const at = now.toISOString();
	const expiresAt = new Date(now.getTime() + RESERVATION_LEASE_MS).toISOString();
	if (await reserveUploadBytes(db, { ...upload, dayStart, at, expiresAt }, quotas.maxUploadBytesPerDay)) return;
	const { stored, reserved } = await uploadUsage(db, upload.tenantId, dayStart, at);
	const nextDay = startOfUtcDay(now).getTime() + 24 * 60 * 60 * 1000;
	throw new ApiError(
		"quota-exceeded",
		`This tenant uploaded ${stored} bytes today (UTC) and has ${reserved} more reserved by uploads in progress; ${upload.bytes} more would pass the daily quota of ${quotas.maxUploadBytesPerDay}.`,
		{ headers: { "Retry-After": String(Math.ceil((nextDay - now.getTime()) / 1000)) } },
	);
}

/**
 * Opens an R2 multipart upload for a file of `bytes`, cut into parts of the configured size;
 * its declared size holds against the daily quota while the session is open.
 */
async function openUploadSession(
	env: Env,
	bytes: number,
	owner: { tenantId: string; traceId: string; quotas: TenantQuotas },
) {
	const { tenantId, traceId, quotas } = owner;
	const partBytes = env.UPLOAD_PART_BYTES;
	if (Math.ceil(bytes / partBytes) > MAX_PARTS) {
		throw new ApiError(
			"payload-too-large",
			`The upload is ${bytes} bytes; in parts of ${partBytes} bytes the limit is ${MAX_PARTS * partBytes} bytes.`,
		);
	}
	const id = newUploadId();
	await reserveDailyUploadBytes(env.DB, { id, tenantId, bytes }, quotas);
	try {
		const objectKey = objectKeys.upload(id);
		const multipart = await env.BUCKET.createMultipartUpload(objectKey, {
			httpMetadata: { contentType: "image/tiff" },
		});
		const createdAt = new Date();
		const session = {
			id,
			objectKey,
			multipartId: multipart.uploadId,
			bytes,
			partBytes,
			status: "open" as const,
			createdAt: createdAt.toISOString(),
			expiresAt: new Date(createdAt.getTime() + UPLOAD_SESSION_TTL_MS).toISOString(),
		};
		// The open session holds the bytes from now on, in place of the reservation.
		await insertUploadSession(env.DB, session, { tenantId, traceId }, settleUploadReservation(env.DB, id));
		log.info("upload_session_opened", { trace_id: traceId, upload_id: id, bytes, part_bytes: partBytes });
		return { ...session, expiredAt: null };
	} catch (error) {
		await dropUploadReservation(env.DB, id);
		throw error;
	}
}

export function registerCreateUpload(app: App): void {
	app.openapi(createUploadRoute, async function createUpload(c) {
		const { tenantId, quotas } = c.get("principal");
		const uploadLength = c.req.valid("header")["upload-length"];
		const { traceId } = c.get("trace");
		if (uploadLength !== undefined) {
			await c.req.raw.body?.cancel();
			const session = await openUploadSession(c.env, Number(uploadLength), { tenantId, traceId, quotas });
			return c.json(renderUploadSession(session, []), 202, { Location: `/v1/uploads/${session.id}` });
		}
		const length = declaredLength(c.req.header("content-length"), c.env.MAX_UPLOAD_BYTES);
		const body = c.req.raw.body;
		if (!body || length < TIFF_SIGNATURE_BYTES) {
			throw new ApiError("unsupported-media-type", "The body is empty or too short to be a TIFF file.");
		}
		const idempotencyKey = readIdempotencyKey(c.req.header("idempotency-key"));
		let held: HeldClaim | null = null;
		if (idempotencyKey) {
			const scope = { db: c.env.DB, tenantId, operation: "createUpload" as const, key: idempotencyKey };
			const outcome = await claim(scope, null);
			if ("earlier" in outcome) {
				const replay = replayFor(scope, outcome.earlier, await digestOf(body));
				if ("response" in replay) {
					return c.json(replay.response.body as z.infer<typeof UploadSchema>, 201, replayHeaders(replay.response));
				}
				// The first request recorded the upload, then failed before it could answer: this is its answer.
				const upload = (await findUploads(c.env.DB, tenantId, [replay.resourceId])).get(replay.resourceId);
				if (!upload) {
					throw new ApiError("not-found", `Upload ${replay.resourceId}, stored for this Idempotency-Key, was deleted.`);
				}
				const rendered = renderUpload(upload);
				return c.json(
					rendered,
					201,
					replayHeaders({ status: 201, body: rendered, location: `/v1/uploads/${upload.id}` }),
				);
			}
			held = outcome.held;
		}
		const id = newUploadId();
		try {
			// The declared length is reserved before the body streams, and settled when it is recorded.
			await reserveDailyUploadBytes(c.env.DB, { id, tenantId, bytes: length }, quotas);
			try {
				const { upload, digest } = await storeUpload(c.env, id, body, length, traceId);
				const bind = held ? [bindIdempotentResource(c.env.DB, held, { id, requestHash: digest })] : [];
				await insertUpload(c.env.DB, upload, { tenantId, traceId }, [settleUploadReservation(c.env.DB, id), ...bind]);
				log.info("upload_stored", { trace_id: traceId, upload_id: upload.id, bytes: length, ...upload.raster });
				const rendered = renderUpload(upload);
				const location = `/v1/uploads/${upload.id}`;
				if (held) await remember(held, digest, { status: 201, body: rendered, location });
				return c.json(rendered, 201, { Location: location });
			} catch (error) {
				await dropUploadReservation(c.env.DB, id);
				throw error;
			}
		} catch (error) {
			if (held) await release(held);
			throw error;
		}
	});
}

/**
 * Stores the body and reads its header; a file whose header cannot be read is not kept. Nor is
 * one whose header storage could not give back: no upload refers to it, and the client, told to
 * retry, sends the body again.
 */
async function storeUpload(env: Env, id: string, body: ReadableStream<Uint8Array>, length: number, traceId: string) {
	const key = objectKeys.upload(id);
	const digest = await storeBody(env.BUCKET, key, body, length);
	let raster: RasterSummary;
	try {
		raster = await describeStoredTiff(env, key, length);
	} catch (error) {
		// A refused file is deleted already; after a fault of ours no upload refers to the object.
		if (!(error instanceof ApiError) || error.code === "storage-unavailable") {
			await env.BUCKET.delete(key).catch((cause: unknown) => {
				log.warn("upload_cleanup_failed", { trace_id: traceId, upload_id: id, ...describeError(cause) });
			});
		}
		throw error;
	}
	return { upload: { id, objectKey: key, bytes: length, raster, createdAt: new Date().toISOString() }, digest };
}
