/**
 * GeoTIFFs stored in R2, opened through geotiff.js with a data source whose every read is a
 * ranged GET, so a header or a window is read without fetching the whole file.
 */
import { GeoTIFF, type GeoTIFFImage } from "geotiff";

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
	async read({ offset, length }: Slice): Promise<ArrayBuffer> {
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

/** The parts of geotiff.js's DeferredArray (not exported) that the workaround below reads. */
interface DeferredArray {
	arrayOffset: number;
	fieldType: number;
	length: number;
	itemSize: number;
}

interface DirectoryInternals {
	actualizedFields: Map<number | string, unknown>;
	deferredArrays: Map<number | string, DeferredArray>;
}

type ValueReader = (view: DataView, offset: number) => number;

/** Big-endian readers for the TIFF field types that offset and count arrays use. */
const BIG_ENDIAN_READERS: Record<number, ValueReader> = {
	1: (view, offset) => view.getUint8(offset),
	3: (view, offset) => view.getUint16(offset),
	4: (view, offset) => view.getUint32(offset),
	6: (view, offset) => view.getInt8(offset),
	8: (view, offset) => view.getInt16(offset),
	9: (view, offset) => view.getInt32(offset),
	11: (view, offset) => view.getFloat32(offset),
	12: (view, offset) => view.getFloat64(offset),
	13: (view, offset) => view.getUint32(offset),
	16: (view, offset) => Number(view.getBigUint64(offset)),
	17: (view, offset) => Number(view.getBigInt64(offset)),
	18: (view, offset) => Number(view.getBigUint64(offset)),
};

/**
 * geotiff.js 3.0.5 decodes arrays that lie outside its first header read (tile and strip
 * offsets of larger files) as little-endian whatever the file's byte order. For big-endian
 * files this reads those arrays itself, in the file's order, before geotiff.js uses them.
 */
async function loadBigEndianArrays(image: GeoTIFFImage, source: R2RangeSource): Promise<void> {
	if (image.littleEndian) return;
	const directory = image.getFileDirectory() as unknown as DirectoryInternals;
	for (const [tag, deferred] of [...directory.deferredArrays]) {
		const readValue = BIG_ENDIAN_READERS[deferred.fieldType];
		if (!readValue) continue;
		const bytes = await source.read({ offset: deferred.arrayOffset, length: deferred.itemSize * deferred.length });
		if (bytes.byteLength < deferred.itemSize * deferred.length) {
			throw new Error(`tag ${tag}: its array runs past the end of the file`);
		}
		const view = new DataView(bytes);
		const values = Array.from({ length: deferred.length }, (_, i) => readValue(view, i * deferred.itemSize));
		directory.actualizedFields.set(tag, values);
		directory.deferredArrays.delete(tag);
	}
}

/** Opens the first image of a GeoTIFF stored in R2, reading no more than its header. */
export async function openR2Image(bucket: R2Bucket, key: string, size: number): Promise<GeoTIFFImage> {
	const source = new R2RangeSource(bucket, key, size);
	const tiff = await GeoTIFF.fromSource(source as unknown as GeoTiffSource);
	const image = await tiff.getImage(0);
	await loadBigEndianArrays(image, source);
	return image;
}
