/**
 * JPEG-compressed blocks: decoded by geotiff.js's JPEG decoder only after EO Edge has checked
 * each block's frame header, since that decoder sizes its buffers from the header alone.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { checkJpegFrame } from "../../src/raster/decoders";
import { openRasterFile } from "../../src/raster/inputs";
import { readWindow } from "../../src/raster/read";
import jpegTiff from "../fixtures/jpeg/jpeg_byte_256.tif";
import gdalDecoded from "../fixtures/jpeg/jpeg_byte_256.u8";

const SIZE = 256;
/**
 * None: the inverse DCT is libjpeg's own (src/raster/jpeg.ts), so the samples are GDAL's exactly
 * (geotiff.js's inverse DCT rounds differently, up to 2 levels off on this file).
 */
const LOSSY_DECODER_TOLERANCE = 0;

async function readAll(bytes: ArrayBuffer): Promise<Uint8Array> {
	const key = `test/jpeg/${crypto.randomUUID()}.tif`;
	await env.BUCKET.put(key, bytes);
	const { image } = await openRasterFile(env, {
		objectKey: key,
		href: null,
		bytes: bytes.byteLength,
		allowedHosts: null,
	});
	const decoded = await readWindow(image, [1], { rowStart: 0, rowEnd: SIZE, colStart: 0, colEnd: SIZE });
	const band = new Uint8Array(SIZE * SIZE);
	decoded.copyBand(0, band);
	return band;
}

/** Offset of the first frame header (SOF0, FF C0) in the file: the first tile's. */
function firstFrameHeader(bytes: Uint8Array): number {
	for (let at = 8; at + 1 < bytes.length; at++) if (bytes[at] === 0xff && bytes[at + 1] === 0xc0) return at;
	throw new Error("the fixture has no baseline JPEG frame header");
}

describe("JPEG blocks", () => {
	it("decode to GDAL's samples, within the rounding of two JPEG decoders", async () => {
		const band = await readAll(jpegTiff);
		const expected = new Uint8Array(gdalDecoded);
		let worst = 0;
		for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((band[i] ?? 0) - (expected[i] ?? 0)));
		expect(worst).toBeLessThanOrEqual(LOSSY_DECODER_TOLERANCE);
	});

	it("are refused before decoding when a frame header claims more than the block", async () => {
		const bytes = new Uint8Array(jpegTiff.slice(0));
		const frame = firstFrameHeader(bytes);
		// Height and width: 65535 x 65535, about 4 GiB of samples for the decoder to allocate.
		bytes.set([0xff, 0xff, 0xff, 0xff], frame + 5);
		await expect(readAll(bytes.buffer)).rejects.toThrow(/JPEG: the block declares a 65535 x 65535 frame/);
	});

	it("check frames against the block: the size that fits passes, more samples or components do not", () => {
		const frame = (height: number, width: number, components: number, factors = 0x11) =>
			new Uint8Array([
				0xff,
				0xd8,
				0xff,
				0xc0,
				0x00,
				8 + 3 * components,
				8,
				height >> 8,
				height & 255,
				width >> 8,
				width & 255,
				components,
				...Array.from({ length: components }, (_, i) => [i + 1, i === 0 ? factors : 0x11, 0]).flat(),
				0xff,
				0xda,
			]);
		const block = { tileWidth: 128, tileHeight: 64 };
		expect(() => checkJpegFrame(frame(64, 128, 1), block)).not.toThrow();
		expect(() => checkJpegFrame(frame(65, 128, 1), block)).toThrow(/128 x 65 frame/);
		expect(() => checkJpegFrame(frame(64, 129, 3), block)).toThrow(/129 x 64 frame/);
		expect(() => checkJpegFrame(frame(64, 128, 5), block)).toThrow(/of 5 components/);
		expect(() => checkJpegFrame(new Uint8Array([0x00, 0x01]), block)).toThrow(/no marker at byte 0/);
		// Sampling factors: 2 x 2 luma beside 1 x 1 chroma is GDAL's; 0 or 5 is no JPEG's; 3 x 3 beside
		// 2 x 2 is one libjpeg does not upsample.
		expect(() => checkJpegFrame(frame(64, 128, 3, 0x22), block)).not.toThrow();
		expect(() => checkJpegFrame(frame(64, 128, 3, 0x02), block)).toThrow(
			/sampling factors 0 x 2, 1 x 1, 1 x 1 are not between 1 and 4/,
		);
		expect(() => checkJpegFrame(frame(64, 128, 1, 0x51), block)).toThrow(/not between 1 and 4/);
		expect(() => checkJpegFrame(frame(64, 128, 2, 0x33), block)).not.toThrow();
		expect(() => checkJpegFrame(frame(64, 128, 3, 0x23), block)).not.toThrow();
	});
});
