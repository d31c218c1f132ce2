/** Ranged reads of an object stored in R2: every read is a `get` with a `range`. */
import type { RangeReader } from "./ranged-source";

/** The R2 object behind an upload is gone: a retry cannot bring it back. */
export class RasterObjectMissing extends Error {
	constructor(readonly key: string) {
		super(`object ${key} is missing from storage`);
		this.name = "RasterObjectMissing";
	}
}

/** Reading from R2 failed: a transient fault worth a retry, unlike a decoding error. */
export class StorageReadError extends Error {
	constructor(
		readonly key: string,
		cause: unknown,
	) {
		super(`reading ${key} from storage failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
		this.name = "StorageReadError";
	}
}

export function r2RangeReader(bucket: R2Bucket, key: string, size: number): RangeReader {
	return {
		size,
		async read(offset, length) {
			let object: R2ObjectBody | null;
			try {
				object = await bucket.get(key, { range: { offset, length } });
				if (object) return await object.arrayBuffer();
			} catch (error) {
				throw new StorageReadError(key, error);
			}
			throw new RasterObjectMissing(key);
		},
	};
}
