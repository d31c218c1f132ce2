/**
 * A geotiff.js data source over one R2 object: every read is a ranged GET, so a header or a
 * window is read without fetching the whole file.
 */
import { GeoTIFF } from "geotiff";

interface Slice {
	offset: number;
	length: number;
}

type GeoTiffSource = Parameters<typeof GeoTIFF.fromSource>[0];

class R2RangeSource {
	constructor(
		private readonly bucket: R2Bucket,
		private readonly key: string,
		private readonly size: number,
	) {}

	get fileSize(): number {
		return this.size;
	}

	async fetch(slices: Slice[]): Promise<ArrayBuffer[]> {
		return Promise.all(slices.map((slice) => this.read(slice)));
	}

	async fetchSlice(slice: Slice): Promise<Slice & { data: ArrayBuffer }> {
		return { ...slice, data: await this.read(slice) };
	}

	async close(): Promise<void> {}

	/** Ranges are clamped to the object: geotiff.js asks for a fixed-size first read. */
	private async read({ offset, length }: Slice): Promise<ArrayBuffer> {
		const end = Math.min(offset + length, this.size);
		if (offset >= end) return new ArrayBuffer(0);
		let object: R2ObjectBody | null;
		try {
			object = await this.bucket.get(this.key, { range: { offset, length: end - offset } });
			if (object) return await object.arrayBuffer();
		} catch (error) {
			throw new StorageReadError(this.key, error);
		}
		throw new RasterObjectMissing(this.key);
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

/** The R2 object behind an upload is gone: a retry cannot bring it back. */
export class RasterObjectMissing extends Error {
	constructor(readonly key: string) {
		super(`object ${key} is missing from storage`);
		this.name = "RasterObjectMissing";
	}
}

/** Opens a GeoTIFF stored in R2 without reading more than its header. */
export function openR2GeoTiff(bucket: R2Bucket, key: string, size: number): Promise<GeoTIFF> {
	return GeoTIFF.fromSource(new R2RangeSource(bucket, key, size) as unknown as GeoTiffSource);
}
