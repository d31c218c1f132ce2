/**
 * YCbCr JPEG, GDAL's layout for RGB JPEG (and drone orthomosaics'): read as RGB, as GDAL reads
 * it, with chroma subsampled 2 x 2, 2 x 1, 1 x 2 or not at all, tables in JPEGTables or in each
 * block; an RGB index computed over it as numpy computes it over GDAL's samples. Other
 * photometric interpretations and malformed blocks are refused as problems.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { RasterInputError } from "../../src/raster/input-errors";
import { openRasterFile } from "../../src/raster/inputs";
import { inspectRaster } from "../../src/raster/inspect";
import { readWindow } from "../../src/raster/read";
import { layoutOf, TAGS } from "../corpus/malformed-tiffs";
import jpegByte from "../fixtures/jpeg/jpeg_byte_256.tif";
import variExpected from "../fixtures/jpeg/vari_ycbcr_tiled.f32";
import ycbcr1x1 from "../fixtures/jpeg/ycbcr_1x1.tif";
import ycbcr1x1Gdal from "../fixtures/jpeg/ycbcr_1x1.u8";
import ycbcr1x2 from "../fixtures/jpeg/ycbcr_1x2.tif";
import ycbcr1x2Gdal from "../fixtures/jpeg/ycbcr_1x2.u8";
import ycbcr2x1 from "../fixtures/jpeg/ycbcr_2x1.tif";
import ycbcr2x1Gdal from "../fixtures/jpeg/ycbcr_2x1.u8";
import ycbcrStrips from "../fixtures/jpeg/ycbcr_strips.tif";
import ycbcrStripsGdal from "../fixtures/jpeg/ycbcr_strips.u8";
import ycbcrTiled from "../fixtures/jpeg/ycbcr_tiled.tif";
import ycbcrTiledGdal from "../fixtures/jpeg/ycbcr_tiled.u8";
import { api, json, submitJob, upload, waitForJob } from "../helpers";

/**
 * How far a sample may be from GDAL's: not at all, on average or anywhere. The inverse DCT,
 * upsampling and colour conversion are libjpeg's (src/raster/jpeg.ts), so the samples are
 * GDAL's exactly. (geotiff.js's own readRGB, with its inverse DCT, nearest-neighbour chroma and
 * floating-point conversion, is up to 8 levels off on these files, 0.5 on average.)
 */
const MAX_ABS_DIFF = 0;
const MAX_MEAN_ABS_DIFF = 0;

async function openBytes(bytes: ArrayBuffer) {
	const key = `test/jpeg/${crypto.randomUUID()}.tif`;
	await env.BUCKET.put(key, bytes);
	return openRasterFile(env, { objectKey: key, href: null, bytes: bytes.byteLength, allowedHosts: null });
}

/** Every band of the file, band-sequential, as this read path decodes it. */
async function readBands(bytes: ArrayBuffer): Promise<{ samples: Uint8Array; width: number; height: number }> {
	const { image } = await openBytes(bytes);
	const width = image.getWidth();
	const height = image.getHeight();
	const decoded = await readWindow(image, [1, 2, 3], { rowStart: 0, rowEnd: height, colStart: 0, colEnd: width });
	const samples = new Uint8Array(3 * width * height);
	for (let position = 0; position < 3; position++) {
		decoded.copyBand(position, samples.subarray(position * width * height, (position + 1) * width * height));
	}
	return { samples, width, height };
}

function differences(actual: Uint8Array, expected: Uint8Array): { max: number; mean: number } {
	expect(actual.length).toBe(expected.length);
	let max = 0;
	let sum = 0;
	for (let i = 0; i < expected.length; i++) {
		const difference = Math.abs((actual[i] as number) - (expected[i] as number));
		max = Math.max(max, difference);
		sum += difference;
	}
	return { max, mean: sum / expected.length };
}

describe("YCbCr JPEG", () => {
	it.each([
		["ycbcr_tiled.tif (2 x 2, 128 x 128 tiles, quantization tables in JPEGTables)", ycbcrTiled, ycbcrTiledGdal],
		["ycbcr_strips.tif (2 x 2, 32-row strips, no JPEGTables)", ycbcrStrips, ycbcrStripsGdal],
		["ycbcr_1x1.tif (no subsampling, all tables in JPEGTables)", ycbcr1x1, ycbcr1x1Gdal],
		["ycbcr_2x1.tif (2 x 1)", ycbcr2x1, ycbcr2x1Gdal],
		["ycbcr_1x2.tif (1 x 2)", ycbcr1x2, ycbcr1x2Gdal],
	])("%s reads as GDAL's RGB", async (_name, tiff, gdal) => {
		const { image } = await openBytes(tiff);
		expect((await inspectRaster(image)).photometric).toBe(6);
		const { samples } = await readBands(tiff);
		const found = differences(samples, new Uint8Array(gdal));
		expect(found.max).toBeLessThanOrEqual(MAX_ABS_DIFF);
		expect(found.mean).toBeLessThanOrEqual(MAX_MEAN_ABS_DIFF);
	});

	it("an RGB index over a YCbCr orthomosaic gives numpy's over GDAL's samples", async () => {
		const id = (await upload(ycbcrTiled)).id;
		const response = await submitJob({
			index: "VARI",
			inputs: { red: { upload_id: id, band: 1 }, green: { upload_id: id, band: 2 }, blue: { upload_id: id, band: 3 } },
		});
		expect(response.status, await response.clone().text()).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.error).toBeNull();
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const [pixels = new Float32Array()] = (await (
			await fromArrayBuffer(result)
		)
			.getImage()
			.then((image) => image.readRasters())) as unknown as Float32Array[];
		const expected = new Float32Array(variExpected);
		expect(pixels.length).toBe(expected.length);
		let mismatches = 0;
		for (let i = 0; i < expected.length; i++) {
			const want = expected[i] as number;
			const got = pixels[i] as number;
			if (!(Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want))) mismatches++;
		}
		expect(mismatches).toBe(0);
	});
});

/** A copy of a TIFF with its PhotometricInterpretation (a SHORT, stored in its entry) set to `value`. */
function withPhotometric(tiff: ArrayBuffer, value: number): ArrayBuffer {
	const bytes = new Uint8Array(tiff.slice(0));
	const entry = layoutOf(bytes).entries.get(TAGS.photometric);
	if (!entry) throw new Error("the fixture has no PhotometricInterpretation");
	new DataView(bytes.buffer).setUint16(entry.values, value, true);
	return bytes.buffer;
}

/** A copy of ycbcr_tiled.tif with bytes of its first tile's JPEG stream changed by `change`. */
function withFirstTile(change: (tile: Uint8Array, frame: number) => void): ArrayBuffer {
	const bytes = new Uint8Array(ycbcrTiled.slice(0));
	const layout = layoutOf(bytes);
	const offsets = layout.entries.get(TAGS.tileOffsets);
	const counts = layout.entries.get(TAGS.tileByteCounts);
	if (!offsets || !counts) throw new Error("the fixture is not tiled");
	const data = new DataView(bytes.buffer);
	const tile = bytes.subarray(
		data.getUint32(offsets.values, true),
		data.getUint32(offsets.values, true) + data.getUint32(counts.values, true),
	);
	let frame = 0;
	while (!(tile[frame] === 0xff && tile[frame + 1] === 0xc0)) frame++;
	change(tile, frame);
	return bytes.buffer;
}

async function submitOn(bytes: ArrayBuffer, bands: number) {
	const id = (await upload(bytes)).id;
	const inputs =
		bands === 3
			? { red: { upload_id: id, band: 1 }, green: { upload_id: id, band: 2 }, blue: { upload_id: id, band: 3 } }
			: { red: { upload_id: id, band: 1 }, green: { upload_id: id, band: 1 }, blue: { upload_id: id, band: 1 } };
	const response = await submitJob({ index: "VARI", inputs });
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

describe("JPEG not read as RGB", () => {
	it.each([
		[
			"a one-band JPEG tagged YCbCr",
			jpegByte,
			1,
			6,
			"photometric interpretation 6 (YCbCr) is not supported in this file: YCbCr is read only from three Byte bands",
		],
		["a YCbCr JPEG tagged CMYK", ycbcrTiled, 3, 5, "photometric interpretation 5 (CMYK) is not supported"],
		["a YCbCr JPEG tagged palette", ycbcrTiled, 3, 3, "photometric interpretation 3 (palette) is not supported"],
	])(
		"%s fails its job at validate with an unsupported-raster problem",
		async (_name, tiff, bands, photometric, detail) => {
			const job = await submitOn(withPhotometric(tiff, photometric), bands);
			expect(job.status).toBe("failed");
			expect(job.stage).toBe("validate");
			expect(job.error?.type).toBe("https://eo-edge.dev/problems/unsupported-raster");
			expect(job.error?.detail).toContain(detail);
		},
	);

	it.each([
		[
			"scan data broken by a marker",
			(tile: Uint8Array) => tile.set([0xff, 0xc8], tile.length - 40),
			"invalid-raster",
			/JPEG: unexpected marker/,
		],
		[
			"a component naming a missing quantization table",
			(tile: Uint8Array, frame: number) => tile.set([3], frame + 12),
			"invalid-raster",
			/component 1 has no quantization table/,
		],
		[
			"12-bit samples",
			(tile: Uint8Array, frame: number) => tile.set([12], frame + 4),
			"unsupported-raster",
			/JPEG: 12-bit samples are not supported/,
		],
		[
			"chroma sampled 3 x 3 beside luma 2 x 2",
			(tile: Uint8Array, frame: number) => tile.set([0x33], frame + 14),
			"unsupported-raster",
			/JPEG: sampling factors 2 x 2, 3 x 3, 1 x 1 are not supported/,
		],
		[
			"no sampling factors",
			(tile: Uint8Array, frame: number) => tile.set([0x00, 0, 0, 0x00, 0, 0, 0x00], frame + 11),
			"invalid-raster",
			/JPEG: sampling factors 0 x 0, 0 x 0, 0 x 0 are not between 1 and 4/,
		],
	] as const)(
		"a block with %s is refused as a RasterInputError, and its job fails with a problem",
		async (_name, change, type, message) => {
			const bytes = withFirstTile(change);
			const { image } = await openBytes(bytes);
			const read = readWindow(image, [1, 2, 3], { rowStart: 0, rowEnd: 128, colStart: 0, colEnd: 128 });
			await expect(read).rejects.toBeInstanceOf(RasterInputError);
			await expect(read).rejects.toThrow(message);
			const job = await submitOn(bytes, 3);
			expect(job.status).toBe("failed");
			expect(job.stage).toBe("compute");
			expect(job.error?.type).toBe(`https://eo-edge.dev/problems/${type}`);
		},
	);
});
