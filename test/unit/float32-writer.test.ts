/**
 * The streamed float32 GeoTIFF: a header from float32StripHeader followed by raw strips must
 * read back (with geotiff.js) as the same pixels on the same grid and CRS as the source.
 * Also covers the georeference helpers on GDAL-written fixtures.
 */
import { fromArrayBuffer, type GeoTIFFImage } from "geotiff";
import { describe, expect, it } from "vitest";
import { float32StripHeader } from "../../src/raster/float32-writer";
import {
	type GeoReference,
	type Geotransform,
	geotransformOf,
	readGeoReference,
	sameCrs,
	sameGeotransform,
} from "../../src/raster/georeference";
import landsatTif from "../fixtures/landsat_rn_float32.tif";
import shiftedNirTif from "../fixtures/mismatch_nir_shifted.tif";
import s2RedTif from "../fixtures/s2_red_256.tif";

/** Geotransforms as GDAL reported them when the fixtures were made (/work/shared/fixtures/manifest.json). */
const S2_GEOTRANSFORM: Geotransform = [600000, 10, 0, 5300040, 0, -10];
const SHIFTED_GEOTRANSFORM: Geotransform = [600010, 10, 0, 5300040, 0, -10];
const LANDSAT_GEOTRANSFORM: Geotransform = [36.8, 0.00025, 0, -1.2, 0, -0.00025];

async function firstImage(file: ArrayBuffer | Uint8Array): Promise<GeoTIFFImage> {
	const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
	// Copy: geotiff.js wants an ArrayBuffer of exactly the file.
	const tiff = await fromArrayBuffer(bytes.slice().buffer);
	return tiff.getImage(0);
}

async function geoOf(file: ArrayBuffer): Promise<GeoReference> {
	return readGeoReference(await firstImage(file));
}

/** s2_red_256's georeference with its key directory edited: key id → new [location, count, value]. */
function withGeoKeys(ref: GeoReference, edits: Record<number, [number, number, number]>): GeoReference {
	const directory = [...(ref.geoKeyDirectory ?? [])];
	for (let at = 4; at < directory.length; at += 4) {
		const edit = edits[directory[at] ?? -1];
		if (edit) directory.splice(at + 1, 3, ...edit);
	}
	return { ...ref, geoKeyDirectory: directory };
}

describe("readGeoReference", () => {
	it("returns plain, JSON-serialisable tag values", async () => {
		const geo = await geoOf(s2RedTif);
		expect(geo).toEqual({
			modelPixelScale: [10, 10, 0],
			modelTiepoint: [0, 0, 0, 600000, 5300040, 0],
			modelTransformation: null,
			geoKeyDirectory: [
				1, 1, 0, 7, 1024, 0, 1, 1, 1025, 0, 1, 1, 1026, 34737, 22, 0, 2049, 34737, 7, 22, 2054, 0, 1, 9102, 3072, 0, 1,
				32633, 3076, 0, 1, 9001,
			],
			geoDoubleParams: null,
			geoAsciiParams: "WGS 84 / UTM zone 33N|WGS 84|",
		});
		expect(Array.isArray(geo.geoKeyDirectory)).toBe(true);
		expect(JSON.parse(JSON.stringify(geo))).toEqual(geo);
	});

	it("reads GeoDoubleParams", async () => {
		expect((await geoOf(landsatTif)).geoDoubleParams).toEqual([298.257223563, 6378137]);
	});
});

describe("geotransformOf", () => {
	it("matches what GDAL reported for the fixtures", async () => {
		expect(geotransformOf(await geoOf(s2RedTif))).toEqual(S2_GEOTRANSFORM);
		expect(geotransformOf(await geoOf(shiftedNirTif))).toEqual(SHIFTED_GEOTRANSFORM);
		expect(geotransformOf(await geoOf(landsatTif))).toEqual(LANDSAT_GEOTRANSFORM);
	});

	it("shifts PixelIsPoint rasters by half a pixel to the corner, as GDAL does", async () => {
		const pointGeo = withGeoKeys(await geoOf(s2RedTif), { 1025: [0, 1, 2] });
		expect(geotransformOf(pointGeo)).toEqual([599995, 10, 0, 5300045, 0, -10]);
	});

	it("uses a tiepoint other than the top-left pixel", async () => {
		const geo = await geoOf(s2RedTif);
		const tiedAtPixel = {
			...geo,
			modelTiepoint: [2, 3, 0, 600020, 5300010, 0],
		};
		expect(geotransformOf(tiedAtPixel)).toEqual(S2_GEOTRANSFORM);
	});

	it("reads ModelTransformation when there is no pixel scale", () => {
		const geo: GeoReference = {
			modelPixelScale: null,
			modelTiepoint: null,
			modelTransformation: [10, 1, 0, 600000, 2, -10, 0, 5300040, 0, 0, 0, 0, 0, 0, 0, 1],
			geoKeyDirectory: null,
			geoDoubleParams: null,
			geoAsciiParams: null,
		};
		expect(geotransformOf(geo)).toEqual([600000, 10, 1, 5300040, 2, -10]);
	});

	it("is null for tiepoints without a scale (ground control points)", async () => {
		const geo = await geoOf(s2RedTif);
		expect(geotransformOf({ ...geo, modelPixelScale: null })).toBeNull();
	});
});

describe("sameGeotransform", () => {
	it("rejects an origin one pixel (10 m) away", () => {
		expect(sameGeotransform(S2_GEOTRANSFORM, SHIFTED_GEOTRANSFORM)).toBe(false);
	});

	it("accepts rounding-level differences but not a thousandth of a pixel", () => {
		const nudged = (dx: number): Geotransform => [600000 + dx, 10, 0, 5300040, 0, -10];
		expect(sameGeotransform(S2_GEOTRANSFORM, nudged(1e-9))).toBe(true);
		expect(sameGeotransform(S2_GEOTRANSFORM, nudged(1e-2))).toBe(false);
		expect(sameGeotransform(LANDSAT_GEOTRANSFORM, [36.8 + 1e-14, 0.00025, 0, -1.2, 0, -0.00025])).toBe(true);
		expect(sameGeotransform(LANDSAT_GEOTRANSFORM, [36.8, 0.00025, 0, -1.2, 0, 0.00025])).toBe(false);
	});
});

describe("sameCrs", () => {
	it("is true for the same CRS and false for UTM 33N against WGS 84", async () => {
		const s2 = await geoOf(s2RedTif);
		expect(sameCrs(s2, await geoOf(s2RedTif))).toBe(true);
		expect(sameCrs(s2, await geoOf(shiftedNirTif))).toBe(true);
		expect(sameCrs(s2, await geoOf(landsatTif))).toBe(false);
	});

	it("ignores citations (names, not definitions) and the raster type", async () => {
		const s2 = await geoOf(s2RedTif);
		const renamed: GeoReference = {
			...withGeoKeys(s2, { 1026: [34737, 5, 0], 2049: [34737, 6, 5] }),
			geoAsciiParams: "UTM33|WGS84",
		};
		expect(sameCrs(s2, renamed)).toBe(true);
		expect(sameCrs(s2, withGeoKeys(s2, { 1025: [0, 1, 2] }))).toBe(true);
	});

	it("compares CRS-defining keys by value", async () => {
		const s2 = await geoOf(s2RedTif);
		expect(sameCrs(s2, withGeoKeys(s2, { 3072: [0, 1, 32634] }))).toBe(false);
		const landsat = await geoOf(landsatTif);
		const otherFlattening = { ...landsat, geoDoubleParams: [298.3, 6378137] };
		expect(sameCrs(landsat, otherFlattening)).toBe(false);
		// The same doubles stored in another order are the same CRS.
		const reordered = {
			...withGeoKeys(landsat, { 2057: [34736, 1, 0], 2059: [34736, 1, 1] }),
			geoDoubleParams: [6378137, 298.257223563],
		};
		expect(sameCrs(landsat, reordered)).toBe(true);
	});
});

/** Float32 samples covering what bit-exactness must preserve: NaN, ±0, ±∞, extremes, subnormals. */
function samplePixels(count: number): Float32Array {
	const special = [Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4028234663852886e38, 1e-45];
	const pixels = new Float32Array(count);
	for (let i = 0; i < count; i++) pixels[i] = special[i % 11] ?? Math.sin(i) * 1.000001 ** i;
	return pixels;
}

async function stripTag(image: GeoTIFFImage, tag: "StripOffsets" | "StripByteCounts"): Promise<number[]> {
	return Array.from((await image.fileDirectory.loadValue(tag)) ?? [], Number);
}

/** Header plus strips, each strip cut from `pixels` as the compute stage would produce it. */
function assemble(header: Uint8Array, stripByteCounts: number[], pixels: Float32Array): Uint8Array {
	const data = new Uint8Array(pixels.buffer);
	const file = new Uint8Array(header.length + data.length);
	file.set(header);
	let written = 0;
	for (const count of stripByteCounts) {
		file.set(data.subarray(written, written + count), header.length + written);
		written += count;
	}
	expect(written).toBe(data.length);
	return file;
}

describe("float32StripHeader", () => {
	for (const [name, source] of [
		["s2_red_256 (UTM 33N)", s2RedTif],
		["landsat_rn_float32 (WGS 84, GeoDoubleParams)", landsatTif],
	] as const) {
		it(`writes a GeoTIFF geotiff.js reads back bit for bit on ${name}'s grid`, async () => {
			const sourceImage = await firstImage(source);
			const geo = await readGeoReference(sourceImage);
			const layout = {
				width: 13,
				height: 10,
				rowsPerStrip: 4,
				geo,
				description: "NDVI <b&w>",
			};
			const { header, stripByteCounts, totalBytes } = float32StripHeader(layout);
			expect(stripByteCounts).toEqual([4 * 13 * 4, 4 * 13 * 4, 2 * 13 * 4]);
			expect(header.length % 8).toBe(0);

			const pixels = samplePixels(13 * 10);
			const file = assemble(header, stripByteCounts, pixels);
			expect(file.length).toBe(totalBytes);

			const image = await firstImage(file);
			expect(image.getWidth()).toBe(13);
			expect(image.getHeight()).toBe(10);
			expect(image.getSamplesPerPixel()).toBe(1);
			expect(image.getSampleFormat()).toBe(3);
			expect(image.getBitsPerSample()).toBe(32);
			expect(image.getTileHeight()).toBe(4);
			expect(await stripTag(image, "StripOffsets")).toEqual([header.length, header.length + 208, header.length + 416]);

			const [band] = (await image.readRasters()) as unknown as [Float32Array];
			expect(band).toBeInstanceOf(Float32Array);
			expect(band.length).toBe(pixels.length);
			const readBits = new Uint32Array(band.buffer, band.byteOffset, band.length);
			const writtenBits = new Uint32Array(pixels.buffer);
			for (let i = 0; i < pixels.length; i++) {
				// NaN payloads may be canonicalised on the way through a JS number; position is what matters.
				if (Number.isNaN(pixels[i])) expect(Number.isNaN(band[i]), `pixel ${i}`).toBe(true);
				else expect(readBits[i], `pixel ${i}`).toBe(writtenBits[i]);
			}

			expect(image.getGDALNoData()).toBeNaN();
			expect(image.fileDirectory.getValue("GDAL_NODATA")).toBe("nan\0");
			expect(await image.getGDALMetadata(0)).toEqual({
				DESCRIPTION: "NDVI &lt;b&amp;w&gt;",
			});
			expect(image.getGeoKeys()).toEqual(sourceImage.getGeoKeys());
			expect(image.getOrigin()).toEqual(sourceImage.getOrigin());
			expect(image.getResolution()).toEqual(sourceImage.getResolution());
			const writtenGeo = await readGeoReference(image);
			expect(writtenGeo).toEqual(geo);
			expect(sameCrs(writtenGeo, geo)).toBe(true);
		});
	}

	it("omits GDAL_METADATA without a description and uses one strip when rowsPerStrip exceeds the height", async () => {
		const geo = await geoOf(s2RedTif);
		const { header, stripByteCounts, totalBytes } = float32StripHeader({
			width: 3,
			height: 2,
			rowsPerStrip: 256,
			geo,
		});
		expect(stripByteCounts).toEqual([24]);
		const pixels = Float32Array.of(1, 2, 3, 4, 5, Number.NaN);
		const file = assemble(header, stripByteCounts, pixels);
		expect(file.length).toBe(totalBytes);
		const image = await firstImage(file);
		expect(image.fileDirectory.hasTag("GDAL_METADATA")).toBe(false);
		expect(image.getTileHeight()).toBe(2);
		expect(Array.from((await image.readRasters())[0] as Float32Array)).toEqual([1, 2, 3, 4, 5, Number.NaN]);
	});

	it("switches to BigTIFF only when a classic TIFF cannot address the file", async () => {
		const geo = await geoOf(s2RedTif);
		const magic = (header: Uint8Array) => new DataView(header.buffer).getUint16(2, true);
		const justUnder = float32StripHeader({
			width: 65536,
			height: 16383,
			rowsPerStrip: 256,
			geo,
		});
		expect(justUnder.totalBytes).toBeLessThan(2 ** 32);
		expect(magic(justUnder.header)).toBe(42);

		const over = float32StripHeader({
			width: 65536,
			height: 16385,
			rowsPerStrip: 256,
			geo,
		});
		expect(over.totalBytes).toBeGreaterThan(2 ** 32);
		expect(magic(over.header)).toBe(43);
		// The strips are not there, but the header alone must parse, with offsets beyond 4 GiB.
		const image = await firstImage(over.header);
		expect(image.getWidth()).toBe(65536);
		expect(image.getHeight()).toBe(16385);
		const offsets = await stripTag(image, "StripOffsets");
		const counts = await stripTag(image, "StripByteCounts");
		expect(counts).toEqual(over.stripByteCounts);
		expect(offsets[0]).toBe(over.header.length);
		expect((offsets.at(-1) ?? 0) + (counts.at(-1) ?? 0)).toBe(over.totalBytes);
		expect(await readGeoReference(image)).toEqual(geo);
	});

	it("rejects layouts that are not positive integers", async () => {
		const geo = await geoOf(s2RedTif);
		expect(() => float32StripHeader({ width: 0, height: 1, rowsPerStrip: 1, geo })).toThrow(RangeError);
		expect(() => float32StripHeader({ width: 1, height: 1.5, rowsPerStrip: 1, geo })).toThrow(RangeError);
		expect(() => float32StripHeader({ width: 1, height: 1, rowsPerStrip: 0, geo })).toThrow(RangeError);
	});
});
