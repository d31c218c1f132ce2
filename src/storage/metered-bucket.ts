/**
 * A job's usage of R2, counted where every stage reaches it: the bucket a stage handler is given
 * counts the bytes it reads from uploads and the bytes it writes, so no stage or process has to.
 */
import { objectKeys } from "./keys";

export interface BucketUse {
	bytesReadUploads: number;
	bytesWritten: number;
}

/** The bytes of a value R2 takes, when known before it is sent (a stream's are not). */
function knownLength(value: unknown): number | null {
	if (typeof value === "string") return new TextEncoder().encode(value).byteLength;
	if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
	if (value instanceof Blob) return value.size;
	return null;
}

/** The bytes a get returned: its range's, or the whole object's. */
function bytesOfBody(object: R2Object): number {
	const range = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
	if (!range) return object.size;
	if (range.suffix !== undefined) return Math.min(range.suffix, object.size);
	const offset = range.offset ?? 0;
	return Math.max(0, Math.min(range.length ?? object.size - offset, object.size - offset));
}

function meteredUpload(upload: R2MultipartUpload, use: BucketUse): R2MultipartUpload {
	return new Proxy(upload, {
		get(target, property, receiver) {
			if (property === "uploadPart") {
				return async (
					partNumber: number,
					value: Parameters<R2MultipartUpload["uploadPart"]>[1],
					options?: R2UploadPartOptions,
				) => {
					const part = await target.uploadPart(partNumber, value, options);
					use.bytesWritten += knownLength(value) ?? 0;
					return part;
				};
			}
			const member = Reflect.get(target, property, receiver);
			return typeof member === "function" ? member.bind(target) : member;
		},
	});
}

/** `bucket`, counting into the returned `use` what is read from uploads and written. */
export function meteredBucket(bucket: R2Bucket): { bucket: R2Bucket; use: BucketUse } {
	const use: BucketUse = { bytesReadUploads: 0, bytesWritten: 0 };
	const metered = new Proxy(bucket, {
		get(target, property, receiver) {
			switch (property) {
				case "get":
					return async (key: string, options?: R2GetOptions) => {
						const object = await target.get(key, options);
						if (object && "body" in object && objectKeys.isUpload(key)) use.bytesReadUploads += bytesOfBody(object);
						return object;
					};
				case "put":
					return async (key: string, value: Parameters<R2Bucket["put"]>[1], options?: R2PutOptions) => {
						const object = await target.put(key, value, options);
						if (object) use.bytesWritten += object.size;
						return object;
					};
				case "createMultipartUpload":
					return async (key: string, options?: R2MultipartOptions) =>
						meteredUpload(await target.createMultipartUpload(key, options), use);
				case "resumeMultipartUpload":
					return (key: string, uploadId: string) => meteredUpload(target.resumeMultipartUpload(key, uploadId), use);
			}
			const member = Reflect.get(target, property, receiver);
			return typeof member === "function" ? member.bind(target) : member;
		},
	});
	return { bucket: metered, use };
}
