/** POST /v1/uploads: stores one GeoTIFF, streamed straight to R2, and reports its header. */
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../context";
import { insertUpload } from "../../db/queries";
import { ApiError } from "../../errors/api-error";
import { problemResponses } from "../../errors/openapi";
import { newUploadId } from "../../ids";
import { log } from "../../observability/log";
import { RasterInputError } from "../../raster/input-errors";
import { openRasterFile } from "../../raster/inputs";
import { inspectRaster, summarize } from "../../raster/inspect";
import { objectKeys } from "../../storage/keys";
import { uploadExample } from "./examples";
import { renderUpload, UploadSchema } from "./schemas";

const TiffBody = z.string().openapi({ format: "binary", description: "The GeoTIFF file, as raw bytes" });

export const createUploadRoute = createRoute({
	method: "post",
	path: "/v1/uploads",
	operationId: "createUpload",
	tags: ["uploads"],
	summary: "Upload one GeoTIFF",
	description:
		"The body is the file itself (not multipart), with Content-Length. It is streamed to storage, then its header is read: the response reports size, bands, sample type, nodata and CRS.",
	request: {
		body: {
			required: true,
			content: { "image/tiff": { schema: TiffBody }, "application/octet-stream": { schema: TiffBody } },
		},
	},
	responses: {
		201: {
			description: "Stored",
			headers: z.object({ Location: z.string().openapi({ example: "/v1/uploads/upl_0123456789abcdef01234567" }) }),
			content: { "application/json": { schema: UploadSchema, example: uploadExample } },
		},
		...problemResponses(400, 411, 413, 415, 422),
	},
});

const TIFF_SIGNATURES = [
	[0x49, 0x49, 0x2a, 0x00],
	[0x4d, 0x4d, 0x00, 0x2a],
	[0x49, 0x49, 0x2b, 0x00],
	[0x4d, 0x4d, 0x00, 0x2b],
];
const SIGNATURE_BYTES = 4;

function declaredLength(header: string | undefined, limit: number): number {
	if (header === undefined || !/^\d+$/.test(header.trim())) {
		throw new ApiError(
			"length-required",
			"Send the file with a Content-Length header (chunked uploads are not accepted).",
		);
	}
	const length = Number(header);
	if (length > limit) {
		throw new ApiError("payload-too-large", `The upload is ${length} bytes; the limit is ${limit} bytes.`);
	}
	return length;
}

function isTiffSignature(bytes: Uint8Array): boolean {
	return TIFF_SIGNATURES.some((signature) => signature.every((byte, position) => bytes[position] === byte));
}

/** Reads chunks until the signature can be checked; returns them to be written first. */
async function readSignature(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array[]> {
	const chunks: Uint8Array[] = [];
	let received = 0;
	while (received < SIGNATURE_BYTES) {
		const { done, value } = await reader.read();
		if (done) break;
		chunks.push(value);
		received += value.byteLength;
	}
	const head = new Uint8Array(Math.min(received, SIGNATURE_BYTES));
	let filled = 0;
	for (const chunk of chunks) {
		const take = chunk.subarray(0, head.length - filled);
		head.set(take, filled);
		filled += take.length;
		if (filled === head.length) break;
	}
	if (!isTiffSignature(head)) {
		await reader.cancel();
		throw new ApiError(
			"unsupported-media-type",
			"The body is not a TIFF file: it must start with a TIFF signature (II*, MM*, or BigTIFF). Send the file's raw bytes, not a form.",
		);
	}
	return chunks;
}

/** The client sent more or fewer bytes than it declared, or its body broke off. */
class BodyLengthMismatch extends Error {}

/** Streams the body into R2 with its declared length; the body is never held whole. */
async function storeBody(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, length: number) {
	const reader = body.getReader();
	const head = await readSignature(reader);
	const { readable, writable } = new FixedLengthStream(length);
	const stored = bucket.put(key, readable, { httpMetadata: { contentType: "image/tiff" } });
	const pumped = (async () => {
		const writer = writable.getWriter();
		let written = 0;
		const write = async (chunk: Uint8Array) => {
			written += chunk.byteLength;
			if (written > length) throw new BodyLengthMismatch(`the body is longer than its Content-Length of ${length}`);
			await writer.write(chunk);
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
			await writer.close();
		} catch (error) {
			await writer.abort(error).catch(() => undefined);
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
}

export function registerCreateUpload(app: App): void {
	app.openapi(createUploadRoute, async function createUpload(c) {
		const length = declaredLength(c.req.header("content-length"), c.env.MAX_UPLOAD_BYTES);
		const body = c.req.raw.body;
		if (!body || length < SIGNATURE_BYTES) {
			throw new ApiError("unsupported-media-type", "The body is empty or too short to be a TIFF file.");
		}
		const id = newUploadId();
		const key = objectKeys.upload(id);
		await storeBody(c.env.BUCKET, key, body, length);

		let raster: ReturnType<typeof summarize>;
		try {
			const { image } = await openRasterFile(c.env, { objectKey: key, href: null, bytes: length, allowedHosts: null });
			raster = summarize(await inspectRaster(image));
		} catch (error) {
			await c.env.BUCKET.delete(key);
			const reason = error instanceof Error ? error.message : String(error);
			const errors = [{ path: "(body)", message: reason }];
			if (error instanceof RasterInputError) {
				throw new ApiError(error.code, `The file's header is refused: ${reason}.`, { errors });
			}
			throw new ApiError("invalid-raster", `The file has a TIFF signature but its header cannot be read: ${reason}.`, {
				errors,
			});
		}
		const upload = { id, objectKey: key, bytes: length, raster, createdAt: new Date().toISOString() };
		const { traceId } = c.get("trace");
		await insertUpload(c.env.DB, upload, traceId);
		log.info("upload_stored", { trace_id: traceId, upload_id: id, bytes: length, ...raster });
		return c.json(renderUpload(upload), 201, { Location: `/v1/uploads/${id}` });
	});
}
