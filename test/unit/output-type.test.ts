/**
 * result.tif's output types (src/raster/output-type.ts): quantize's rounding, clamping and
 * nodata for each type, the request schema, and COGs written in each type read back with
 * geotiff.js (tags, nodata, scale and offset, every level's values within scale / 2), store's
 * assembly of an int16 file, and preview.png drawn from an int16 file as from a float32 one.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { renderPreview } from "../../src/preview/render";
import {
	FLOAT32_OUTPUT,
	type OutputDataType,
	type OutputOptions,
	OutputOptionsSchema,
	type OutputSamples,
	outputRangeWarning,
	outputTypes,
	quantize,
	readSampleScaling,
	unscale,
} from "../../src/raster/output-type";
import { assembleCog } from "../cog";
import { decodePng } from "../png";
import { assembleAsStore, randomRaster, TEST_GEO } from "../store-windows";

const integerTypes = ["int16", "uint16", "uint8"] as const;

function output(data_type: OutputDataType, scale = 1, offset = 0): OutputOptions {
	return { data_type, scale, offset };
}

function quantized(values: number[], options: OutputOptions): number[] {
	return Array.from(quantize(Float32Array.from(values), options));
}

/** The largest difference between `values` and `read`, once NaN is where it is in both. */
function largestError(values: Float32Array, read: Float32Array): number {
	expect(read.length).toBe(values.length);
	let largest = 0;
	let misplacedNaN = 0;
	values.forEach((value, i) => {
		const back = read[i] as number;
		if (Number.isNaN(value) || Number.isNaN(back)) misplacedNaN += Number.isNaN(value) === Number.isNaN(back) ? 0 : 1;
		else largest = Math.max(largest, Math.abs(back - value));
	});
	expect(misplacedNaN).toBe(0);
	return largest;
}

describe("quantize", () => {
	it("rounds half away from zero, as GDAL and C's lround (numpy's round would give 2, -2, 0)", () => {
		expect(quantized([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, -0.49999997, 3.4, -3.6], output("int16"))).toEqual([
			1, 2, 3, -1, -2, -3, 0, 0, 3, -4,
		]);
		// The tie is of (value - offset) / scale: (1.25 - 0.25) / 0.4 = 2.5.
		expect(quantized([1.25, -0.75], output("int16", 0.4, 0.25))).toEqual([3, -3]);
		expect(quantized([2.5, 253.5], output("uint8"))).toEqual([3, 254]);
		// The largest double below 0.5 rounds to 0 (floor(x + 0.5) would give 1).
		expect(quantized([0.5, -0.5], output("int16", 1, 2 ** -54))).toEqual([0, -1]);
		expect(quantized([-0.5], output("int16", 1, -(2 ** -54)))).toEqual([0]);
	});

	it("stores NDVI x 10000 as int16: -1 to 1 become -10000 to 10000", () => {
		expect(quantized([-1, -0.12345, 0, 0.5, 1], output("int16", 0.0001))).toEqual([-10000, -1235, 0, 5000, 10000]);
	});

	it.each(integerTypes)("%s: NaN is nodata, and no value is stored as nodata", (dataType) => {
		const { min, max, nodata } = outputTypes[dataType];
		expect(
			quantized(
				[Number.NaN, nodata, nodata - 0.4, nodata + 0.4, min - 1, max + 1, -1e30, 1e30, -Infinity, Infinity],
				output(dataType),
			),
		).toEqual([
			nodata,
			nodata === min - 1 ? min : max,
			nodata === min - 1 ? min : max,
			nodata === min - 1 ? min : max,
			min,
			max,
			min,
			max,
			min,
			max,
		]);
		const random = Array.from({ length: 10000 }, (_, i) => Math.sin(i) * 2 ** (i % 20));
		expect(quantized(random, output(dataType)).filter((sample) => sample === nodata)).toEqual([]);
	});

	it("clamps by the stored sample, so a negative scale flips the range", () => {
		expect(quantized([1, -1, 10], output("uint8", -0.01, 1))).toEqual([0, 200, 0]);
	});

	it("keeps float32 values as they are, bit for bit, and refuses a scale or offset with them", () => {
		const values = Float32Array.from([0.1, -0.7, Number.NaN, Infinity, 1e-40]);
		const same = quantize(values, FLOAT32_OUTPUT);
		expect(same).toBeInstanceOf(Float32Array);
		expect(new Uint32Array(same.buffer)).toEqual(new Uint32Array(values.buffer));
		expect(() => quantize(values, output("float32", 0.5, 0.1))).toThrow(RangeError);
	});

	it("is undone by unscale within scale / 2, nodata back to NaN", () => {
		const values = randomRaster(300, 200, 3).values;
		for (const options of [output("int16", 0.0001), output("uint16", 0.0001, -1), output("uint8", 0.01, -1)]) {
			const back = unscale(quantize(values, options), { ...options, nodata: outputTypes[options.data_type].nodata });
			expect(largestError(values, back)).toBeLessThanOrEqual(options.scale / 2 + 1e-7);
		}
	});
});

describe("OutputOptionsSchema", () => {
	it("defaults to float32 at scale 1 and offset 0", () => {
		expect(OutputOptionsSchema.parse({})).toEqual(FLOAT32_OUTPUT);
		expect(OutputOptionsSchema.parse({ data_type: "int16", scale: 0.0001 })).toEqual(output("int16", 0.0001));
	});

	it.each([
		[{ data_type: "int16", scale: 0 }, "scale"],
		[{ data_type: "int16", scale: "0.1" }, "scale"],
		[{ offset: Number.NaN }, "offset"],
		[{ data_type: "float64" }, "data_type"],
		[{ data_type: "int16", scale: 1e305 }, "scale"],
		[{ scale: 0.0001 }, "scale"],
		[{ data_type: "float32", offset: 1 }, "offset"],
		[{ nodata: 0 }, ""],
	])("refuses %j at %s", (request, path) => {
		const result = OutputOptionsSchema.safeParse(request);
		expect(result.success).toBe(false);
		expect(result.error?.issues.map((issue) => issue.path.join("."))).toEqual([path]);
	});
});

describe("outputRangeWarning", () => {
	it("says when the expected range does not fit the type at its scale", () => {
		expect(outputRangeWarning(output("int16", 0.0001), [-1, 1])).toBeNull();
		expect(outputRangeWarning(output("uint8", 0.01, -1), [-1, 1])).toBeNull();
		expect(outputRangeWarning(output("uint16", 0.0001), [-1, 1])).toBe(
			"uint16 at scale 0.0001 and offset 0 stores values from 0 to 6.5534; values of the expected range [-1, 1] outside it are clamped",
		);
		expect(outputRangeWarning(output("int16", 0.00001), [-1, 1])).toMatch(/from -0.32767 to 0.32767/);
	});
});

/** A COG of `values` in `options`, read back: its first image and the tiff. */
async function writeAndOpen(width: number, height: number, values: Float32Array, options: OutputOptions) {
	const { file, levels } = await assembleCog(
		{ width, height, geo: TEST_GEO, description: "NDVI", output: options },
		values,
	);
	const tiff = await fromArrayBuffer(file.slice().buffer);
	return { file, levels, tiff };
}

describe("a COG written in each output type", () => {
	const width = 1300;
	const height = 900;
	const raster = randomRaster(width, height, 5);

	it.each([
		[output("int16", 0.0001), 16, 2, 2, "-32768"],
		[output("uint16", 0.0001, -1), 16, 1, 2, "65535"],
		[output("uint8", 0.01, -1), 8, 1, 2, "255"],
	] as const)(
		"%j reads back with geotiff.js as the values, within scale / 2, at every level",
		async (options, bits, sampleFormat, predictor, nodataText) => {
			const { levels, tiff } = await writeAndOpen(width, height, raster.values, options);
			expect(await tiff.getImageCount()).toBe(levels.length);
			const first = await tiff.getImage(0);
			expect(await first.getGDALMetadata(0)).toEqual({
				DESCRIPTION: "NDVI",
				OFFSET: String(options.offset),
				SCALE: String(options.scale),
			});
			for (const [index, level] of levels.entries()) {
				const image = await tiff.getImage(index);
				const directory = image.getFileDirectory();
				expect([image.getBitsPerSample(), image.getSampleFormat(), await directory.loadValue("Predictor")]).toEqual([
					bits,
					sampleFormat,
					predictor,
				]);
				expect(directory.getValue("GDAL_NODATA")).toBe(`${nodataText}\0`);
				const scaling = await readSampleScaling(first, image);
				expect(scaling).toEqual({ nodata: Number(nodataText), scale: options.scale, offset: options.offset });
				const [samples] = (await image.readRasters({ interleave: false })) as unknown as OutputSamples[];
				expect(samples?.constructor).toBe(quantize(new Float32Array(0), options).constructor);
				// float32's own rounding of (value - offset) / scale and back is far below scale / 2.
				const read = unscale(samples as OutputSamples, scaling);
				expect(largestError(level.values, read)).toBeLessThanOrEqual(options.scale / 2 + 1e-6);
			}
		},
	);

	it("writes no scale or offset at 1 and 0, and float32's file is the one written without an output", async () => {
		const layout = { width, height, geo: TEST_GEO, description: "NDVI" };
		const plain = (await assembleCog(layout, raster.values)).file;
		const explicit = (await assembleCog({ ...layout, output: FLOAT32_OUTPUT }, raster.values)).file;
		expect(explicit.findIndex((byte, i) => byte !== plain[i])).toBe(-1);
		const { tiff } = await writeAndOpen(width, height, raster.values, output("int16"));
		expect(await (await tiff.getImage(0)).getGDALMetadata(0)).toEqual({ DESCRIPTION: "NDVI" });
	});

	it("is assembled by store's invocations bit for bit as the serial file, int16 overview blocks included", async () => {
		const options = output("int16", 0.0001);
		// Level 1 is 3 x 2 blocks of one tile and level 2 two, below the top.
		const large = randomRaster(2100, 1100, 6);
		const file = await assembleAsStore(large, {
			geo: TEST_GEO,
			description: "NDVI",
			rows: 512,
			columns: 1024,
			blockTiles: 1,
			partBytes: 300_001,
			output: options,
		});
		const serial = (await writeAndOpen(large.width, large.height, large.values, options)).file;
		expect(file.byteLength).toBe(serial.byteLength);
		expect(file.findIndex((byte, i) => byte !== serial[i])).toBe(-1);
	});
});

describe("preview.png of an integer result.tif", () => {
	it("is the float32 one's when the values are exactly representable, nodata transparent", async () => {
		// Small enough to be drawn from the full resolution, whose values are the representable ones.
		const width = 1000;
		const height = 700;
		// Multiples of 0.0001 as float32 quantise to integers and unscale to the same float32.
		const { values } = randomRaster(width, height, 9);
		const representable = values.map((value) => (Number.isNaN(value) ? value : Math.round(value * 10000) * 0.0001));
		const pngs = [];
		for (const [name, options] of [
			["float32", FLOAT32_OUTPUT],
			["int16", output("int16", 0.0001)],
		] as const) {
			const { file } = await assembleCog({ width, height, geo: TEST_GEO, output: options }, representable);
			const objectKey = `test/output-type/${name}.tif`;
			await env.BUCKET.put(objectKey, file);
			const png = await renderPreview(
				env,
				{ objectKey, bytes: file.byteLength },
				{ width, height },
				{ colormap: "rdylgn", rescale: [-1, 1] },
			);
			pngs.push(await decodePng(png));
		}
		const [float32, int16] = pngs;
		expect(int16?.width).toBe(width);
		expect(int16?.rgba.findIndex((byte, i) => byte !== float32?.rgba[i])).toBe(-1);
		// Transparent pixels are there: some 2 x 2 blocks are all nodata.
		expect(int16?.rgba.some((byte, i) => i % 4 === 3 && byte === 0)).toBe(true);
	});
});
