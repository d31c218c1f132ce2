/**
 * result.tif's COG layout: a header from cogHeader followed by the encoded tiles, smallest
 * overview first, must read back (with geotiff.js) as the same pixels on the same grid and CRS
 * as the source, with the overviews, IFDs before data and tiles in order. Also covers the
 * georeference helpers on GDAL-written fixtures.
 */
import { fromArrayBuffer, type GeoTIFFImage } from "geotiff";
import { describe, expect, it } from "vitest";
import { COG_TILE_SIZE, cogHeader, cogLevels } from "../../src/raster/cog-writer";
import {
	type GeoReference,
	type Geotransform,
	geotransformOf,
	readGeoReference,
	sameCrs,
	sameGeotransform,
} from "../../src/raster/georeference";
import { assembleCog } from "../cog";
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

async function tileTag(image: GeoTIFFImage, tag: "TileOffsets" | "TileByteCounts"): Promise<number[]> {
	return Array.from((await image.fileDirectory.loadValue(tag)) ?? [], Number);
}

function expectSameBits(read: Float32Array, written: Float32Array, label: string): void {
	expect(read.length, label).toBe(written.length);
	const readBits = new Uint32Array(read.buffer, read.byteOffset, read.length);
	const writtenBits = new Uint32Array(written.buffer, written.byteOffset, written.length);
	let mismatches = 0;
	for (let i = 0; i < written.length; i++) {
		// NaN payloads may be canonicalised on the way through a JS number; position is what matters.
		const same = Number.isNaN(written[i]) ? Number.isNaN(read[i]) : readBits[i] === writtenBits[i];
		if (!same) mismatches++;
	}
	expect(mismatches, label).toBe(0);
}

const TYPE_BYTES: Record<number, number> = { 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };

/** Walks a classic TIFF's IFD chain: the end of the last IFD or out-of-line value. */
function classicTiffHeaderEnd(file: Uint8Array): number {
	const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
	let end = 0;
	for (let ifd = view.getUint32(4, true); ifd !== 0; ) {
		const entries = view.getUint16(ifd, true);
		end = Math.max(end, ifd + 2 + entries * 12 + 4);
		for (let entry = 0; entry < entries; entry++) {
			const at = ifd + 2 + entry * 12;
			const bytes = (TYPE_BYTES[view.getUint16(at + 2, true)] ?? 1) * view.getUint32(at + 4, true);
			if (bytes > 4) end = Math.max(end, view.getUint32(at + 8, true) + bytes);
		}
		ifd = view.getUint32(ifd + 2 + entries * 12, true);
	}
	return end;
}

describe("cogHeader", () => {
	it("halves down to one tile: 2x, 4x, … with sides rounded up", () => {
		expect(cogLevels(10980, 10980).map((level) => level.width)).toEqual([10980, 5490, 2745, 1373, 687, 344]);
		expect(cogLevels(1100, 700).map((level) => [level.width, level.height])).toEqual([
			[1100, 700],
			[550, 350],
			[275, 175],
		]);
		expect(cogLevels(512, 300)).toHaveLength(1);
	});

	for (const [name, source] of [
		["s2_red_256 (UTM 33N)", s2RedTif],
		["landsat_rn_float32 (WGS 84, GeoDoubleParams)", landsatTif],
	] as const) {
		it(`writes a COG geotiff.js reads back bit for bit, overviews included, on ${name}'s grid`, async () => {
			const sourceImage = await firstImage(source);
			const geo = await readGeoReference(sourceImage);
			const layout = { width: 1100, height: 700, geo, description: "NDVI <b&w>" };
			const pixels = samplePixels(layout.width * layout.height);
			const { file, levels } = await assembleCog(layout, pixels);
			const tiff = await fromArrayBuffer(file.slice().buffer);
			expect(await tiff.getImageCount()).toBe(3);

			const firstTileOffsets: number[] = [];
			for (const [index, level] of levels.entries()) {
				const image = await tiff.getImage(index);
				expect([image.getWidth(), image.getHeight()]).toEqual([level.width, level.height]);
				expect([image.getTileWidth(), image.getTileHeight()]).toEqual([COG_TILE_SIZE, COG_TILE_SIZE]);
				expect(image.fileDirectory.getValue("Compression")).toBe(8);
				expect(await image.fileDirectory.loadValue("Predictor")).toBe(3);
				expect(image.getSampleFormat()).toBe(3);
				expect(image.getBitsPerSample()).toBe(32);
				expect(image.fileDirectory.getValue("NewSubfileType") ?? 0).toBe(index === 0 ? 0 : 1);
				const offsets = await tileTag(image, "TileOffsets");
				const counts = await tileTag(image, "TileByteCounts");
				expect(offsets).toHaveLength(Math.ceil(level.width / 512) * Math.ceil(level.height / 512));
				// Row-major and back to back within a level.
				offsets.slice(1).forEach((offset, i) => {
					expect(offset).toBe((offsets[i] ?? 0) + (counts[i] ?? 0));
				});
				firstTileOffsets.push(offsets[0] ?? 0);
				const [band] = (await image.readRasters()) as unknown as [Float32Array];
				expectSameBits(band, level.values, `level ${index}`);
			}
			// Data: smallest overview first, full resolution last, all after the IFDs.
			expect(firstTileOffsets).toEqual([...firstTileOffsets].sort((a, b) => b - a));
			expect(Math.min(...firstTileOffsets)).toBeGreaterThanOrEqual(classicTiffHeaderEnd(file));
			expect(new TextDecoder().decode(file.subarray(8, 200))).toMatch(
				/^GDAL_STRUCTURAL_METADATA_SIZE=\d{6} bytes\nLAYOUT=IFDS_BEFORE_DATA/,
			);

			const image = await tiff.getImage(0);
			expect(image.getGDALNoData()).toBeNaN();
			expect(image.fileDirectory.getValue("GDAL_NODATA")).toBe("nan\0");
			expect(await image.getGDALMetadata(0)).toEqual({ DESCRIPTION: "NDVI &lt;b&amp;w&gt;" });
			expect(image.getGeoKeys()).toEqual(sourceImage.getGeoKeys());
			expect(image.getOrigin()).toEqual(sourceImage.getOrigin());
			expect(image.getResolution()).toEqual(sourceImage.getResolution());
			const writtenGeo = await readGeoReference(image);
			expect(writtenGeo).toEqual(geo);
			expect(sameCrs(writtenGeo, geo)).toBe(true);
		});
	}

	it("omits GDAL_METADATA without a description, and a raster within one tile has no overviews", async () => {
		const geo = await geoOf(s2RedTif);
		const pixels = Float32Array.of(1, 2, 3, 4, 5, Number.NaN);
		const { file } = await assembleCog({ width: 3, height: 2, geo }, pixels);
		const tiff = await fromArrayBuffer(file.slice().buffer);
		expect(await tiff.getImageCount()).toBe(1);
		const image = await tiff.getImage(0);
		expect(image.fileDirectory.hasTag("GDAL_METADATA")).toBe(false);
		expect(Array.from((await image.readRasters())[0] as Float32Array)).toEqual([1, 2, 3, 4, 5, Number.NaN]);
	});

	it("switches to BigTIFF only when a classic TIFF cannot address the file", async () => {
		const geo = await geoOf(s2RedTif);
		const magic = (header: Uint8Array) => new DataView(header.buffer).getUint16(2, true);
		const levels = cogLevels(65536, 16384);
		const countsOf = (tileBytes: number) =>
			levels.map((level) => new Array<number>(level.tilesAcross * level.tilesDown).fill(tileBytes));
		const tiles = countsOf(1).flat().length;
		const justUnder = cogHeader({ width: 65536, height: 16384, geo }, countsOf(Math.floor(2 ** 32 / tiles) - 64));
		expect(justUnder.totalBytes).toBeLessThan(2 ** 32);
		expect(magic(justUnder.header)).toBe(42);

		const over = cogHeader({ width: 65536, height: 16384, geo }, countsOf(Math.ceil(2 ** 32 / tiles)));
		expect(over.totalBytes).toBeGreaterThan(2 ** 32);
		expect(magic(over.header)).toBe(43);
		// The tiles are not there, but the header alone must parse, with offsets beyond 4 GiB.
		const tiff = await fromArrayBuffer(over.header.slice().buffer);
		const image = await tiff.getImage(0);
		expect([image.getWidth(), image.getHeight()]).toEqual([65536, 16384]);
		const offsets = await tileTag(image, "TileOffsets");
		const counts = await tileTag(image, "TileByteCounts");
		expect((offsets.at(-1) ?? 0) + (counts.at(-1) ?? 0)).toBe(over.totalBytes);
		expect(await readGeoReference(image)).toEqual(geo);
		const smallest = await tiff.getImage(levels.length - 1);
		expect((await tileTag(smallest, "TileOffsets"))[0]).toBe(over.header.length);
	});

	it("rejects sizes that are not positive integers and byte counts that do not match the tiles", async () => {
		const geo = await geoOf(s2RedTif);
		expect(() => cogLevels(0, 1)).toThrow(RangeError);
		expect(() => cogLevels(1, 1.5)).toThrow(RangeError);
		expect(() => cogHeader({ width: 600, height: 10, geo }, [[1, 1]])).toThrow(RangeError);
		expect(() => cogHeader({ width: 600, height: 10, geo }, [[1]])).toThrow(RangeError);
	});
});
