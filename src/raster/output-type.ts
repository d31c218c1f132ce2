/**
 * The sample types result.tif can be written in, and the quantisation that turns the computed
 * float values into them. Integer samples are round((value - offset) / scale); the file records
 * scale and offset (GDAL's band Scale and Offset) and a nodata value, so `gdal_translate
 * -unscale`, GDAL's GetScale()/GetOffset() and preview.png give the values back within
 * scale / 2. float32 stores the values as computed, and a scale or offset with it is refused:
 * it would only add rounding and size to a file that holds the values exactly (measured: 4.7%
 * larger for an NDVI), and values in other units are the expression's job (`ndvi * 100`). The
 * statistics are of the float values, taken before this.
 *
 * Each type is one entry of {@link outputTypes}: the API's enum is its keys, and the tile
 * encoder and the header writer read everything they need (sample size, TIFF tags, nodata)
 * from the entry.
 */
import { z } from "@hono/zod-openapi";
import type { GeoTIFFImage } from "geotiff";

/** A sample type of result.tif: how its samples are stored and which one means nodata. */
export interface OutputType {
	/** GDAL's name of the type, as gdalinfo shows it. */
	gdalName: string;
	/** Bytes per sample; also TIFF's BitsPerSample / 8. */
	bytes: 1 | 2 | 4;
	/** TIFF SampleFormat: 1 unsigned integer, 2 signed integer, 3 IEEE float. */
	sampleFormat: 1 | 2 | 3;
	/** TIFF Predictor: 3 (floating point) for floats, 2 (horizontal) for integers, as GDAL uses them. */
	predictor: 2 | 3;
	/**
	 * The nodata sample. For the integer types it is an end of the type's range that no value is
	 * stored as (values clamp to [min, max] without it), so it cannot collide with a value.
	 */
	nodata: number;
	/** Smallest and largest sample a value is stored as (for float32, the finite float32 range). */
	min: number;
	max: number;
	/** A typed array of this type's samples over `length` samples of `buffer` at `byteOffset`. */
	view(buffer: ArrayBuffer, byteOffset: number, length: number): OutputSamples;
}

export type OutputSamples =
	| Float32Array<ArrayBuffer>
	| Int16Array<ArrayBuffer>
	| Uint16Array<ArrayBuffer>
	| Uint8Array<ArrayBuffer>;

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * int16 keeps -32768 for nodata so its values are symmetric around 0 (an NDVI x 10000 spans
 * -10000..10000); the unsigned types keep their largest value, so 0 stays a value.
 */
export const outputTypes = {
	float32: {
		gdalName: "Float32",
		bytes: 4,
		sampleFormat: 3,
		predictor: 3,
		nodata: Number.NaN,
		min: -FLOAT32_MAX,
		max: FLOAT32_MAX,
		view: (buffer, byteOffset, length) => new Float32Array(buffer, byteOffset, length),
	},
	int16: {
		gdalName: "Int16",
		bytes: 2,
		sampleFormat: 2,
		predictor: 2,
		nodata: -32768,
		min: -32767,
		max: 32767,
		view: (buffer, byteOffset, length) => new Int16Array(buffer, byteOffset, length),
	},
	uint16: {
		gdalName: "UInt16",
		bytes: 2,
		sampleFormat: 1,
		predictor: 2,
		nodata: 65535,
		min: 0,
		max: 65534,
		view: (buffer, byteOffset, length) => new Uint16Array(buffer, byteOffset, length),
	},
	uint8: {
		gdalName: "Byte",
		bytes: 1,
		sampleFormat: 1,
		predictor: 2,
		nodata: 255,
		min: 0,
		max: 254,
		view: (buffer, byteOffset, length) => new Uint8Array(buffer, byteOffset, length),
	},
} as const satisfies Record<string, OutputType>;

export type OutputDataType = keyof typeof outputTypes;

export const outputDataTypes = Object.keys(outputTypes) as [OutputDataType, ...OutputDataType[]];

/** The values `output`'s samples stand for, from its lowest to its highest. */
export function representableRange({ data_type, scale, offset }: OutputOptions): [number, number] {
	const { min, max } = outputTypes[data_type];
	const low = min * scale + offset;
	const high = max * scale + offset;
	// A negative scale stores the highest values as the lowest samples.
	return low <= high ? [low, high] : [high, low];
}

export const OutputOptionsSchema = z
	.strictObject({
		data_type: z.enum(outputDataTypes).default("float32").openapi({
			description:
				"Sample type of result.tif. Integer types store round((value - offset) / scale), rounded half away from zero and clamped to the type's range; nodata (NaN values and pixels without data) is -32768 for int16, 65535 for uint16 and 255 for uint8, which no value is stored as. float32 stores the values as computed, with nodata NaN, and takes no scale or offset.",
			example: "int16",
		}),
		scale: z
			.number()
			.refine((scale) => scale !== 0, { message: "must not be 0" })
			.default(1)
			.openapi({
				description:
					"A stored sample s means the value s * scale + offset; written as the band's GDAL scale, so GDAL (gdal_translate -unscale, GetScale()) gives the values back",
				example: 0.0001,
			}),
		offset: z
			.number()
			.default(0)
			.openapi({ description: "Added after scale; written as the band's GDAL offset", example: 0 }),
	})
	.superRefine((output, context) => {
		if (output.data_type === "float32") {
			for (const [field, identity] of [
				["scale", 1],
				["offset", 0],
			] as const) {
				if (output[field] === identity) continue;
				context.addIssue({
					code: "custom",
					path: [field],
					message: `float32 stores the values as computed: ${field} applies to the integer types (for other units, scale the expression)`,
				});
			}
			return;
		}
		if (!representableRange(output).every(Number.isFinite)) {
			context.addIssue({
				code: "custom",
				path: ["scale"],
				message: `${output.data_type} samples at this scale and offset would stand for values beyond float64's range`,
			});
		}
	})
	.openapi("OutputOptions", {
		description:
			"How result.tif stores the values. An NDVI as int16 with scale 0.0001 takes half the bytes of float32 and keeps 4 decimals; values outside the type's range at that scale are clamped to its ends. Statistics are always of the unquantised values.",
		example: { data_type: "int16", scale: 0.0001, offset: 0 },
	});

export type OutputOptions = z.infer<typeof OutputOptionsSchema>;

/** result.tif as it always was: float32, the values as computed. */
export const FLOAT32_OUTPUT: OutputOptions = { data_type: "float32", scale: 1, offset: 0 };

/**
 * Why `expected` (e.g. the index's usual range) does not fit what `output` can store, or null
 * when it does. Values outside are clamped, not refused, so this is a warning to give with the
 * job: the expected range of an expression is an estimate, and a user may knowingly clip.
 */
export function outputRangeWarning(output: OutputOptions, expected: readonly [number, number]): string | null {
	const [low, high] = representableRange(output);
	if (expected[0] >= low && expected[1] <= high) return null;
	return `${output.data_type} at scale ${output.scale} and offset ${output.offset} stores values from ${low} to ${high}; values of the expected range [${expected[0]}, ${expected[1]}] outside it are clamped`;
}

/**
 * Writes `values` as `output`'s samples into `into` (as long as `values`). Integer samples are
 * round((value - offset) / scale), rounded half away from zero (as GDAL's GDALCopyWords and C's
 * lround; numpy's round goes to even instead), then clamped to [min, max] of the type, so
 * ±Infinity become its ends; NaN becomes the type's nodata. float32 stores the values as
 * they are, and refuses a scale or offset (see the schema).
 */
export function quantizeInto(values: Float32Array, into: OutputSamples, output: OutputOptions = FLOAT32_OUTPUT): void {
	if (into.length !== values.length) throw new RangeError(`${values.length} values into ${into.length} samples`);
	const { scale, offset } = output;
	if (output.data_type === "float32") {
		if (scale !== 1 || offset !== 0) throw new RangeError("float32 takes no scale or offset");
		into.set(values);
		return;
	}
	const { nodata, min, max } = outputTypes[output.data_type];
	quantizeToIntegers(values, into, scale, offset, nodata, min, max);
}

/**
 * quantizeInto's loop for the integer types, over plain numbers only: a tight loop that V8
 * keeps free of branches on the values (about 6 ns a value where Math.round's took 15).
 */
function quantizeToIntegers(
	values: Float32Array,
	into: OutputSamples,
	scale: number,
	offset: number,
	nodata: number,
	min: number,
	max: number,
): void {
	for (let i = 0; i < values.length; i++) {
		const scaled = ((values[i] as number) - offset) / scale;
		// Clamping before rounding gives the same samples, as min and max are integers, and takes
		// ±Infinity to them; NaN goes through both to the nodata test.
		const clamped = Math.min(max, Math.max(min, scaled));
		// Half away from zero without a branch on the fraction (V8's Math.round has one, and a
		// fraction is noise, so it is mispredicted half the time): the fraction is exact, and
		// twice it truncates to -1, 0 or 1.
		const whole = Math.trunc(clamped);
		const rounded = whole + Math.trunc(2 * (clamped - whole));
		into[i] = Number.isNaN(scaled) ? nodata : rounded;
	}
}

/** `values` as a new array of `output`'s samples; see {@link quantizeInto}. */
export function quantize(values: Float32Array, output: OutputOptions = FLOAT32_OUTPUT): OutputSamples {
	const { bytes, view } = outputTypes[output.data_type];
	const samples = view(new ArrayBuffer(values.length * bytes), 0, values.length);
	quantizeInto(values, samples, output);
	return samples;
}

/** How a stored band's samples map back to values: GDAL's nodata, scale and offset. */
export interface SampleScaling {
	/** The nodata sample; NaN when nodata is NaN, null when the band declares none. */
	nodata: number | null;
	scale: number;
	offset: number;
}

/**
 * The values `samples` stand for, the inverse of {@link quantizeInto} within scale / 2:
 * sample * scale + offset, NaN for nodata (and NaN samples). float32 samples that need neither
 * are returned as they are, not copied.
 */
export function unscale(samples: OutputSamples, { nodata, scale, offset }: SampleScaling): Float32Array {
	if (samples instanceof Float32Array && scale === 1 && offset === 0 && (nodata === null || Number.isNaN(nodata))) {
		return samples;
	}
	const values = new Float32Array(samples.length);
	for (let i = 0; i < samples.length; i++) {
		const sample = samples[i] as number;
		values[i] = sample === nodata ? Number.NaN : sample * scale + offset;
	}
	return values;
}

/**
 * The scaling of band 1 of a GeoTIFF as GDAL reads it: nodata from `image`'s GDAL_NODATA (one
 * level of a COG, as every level declares it), scale and offset from the GDAL_METADATA of
 * `first`, the file's first image, where GDAL keeps the band's metadata; 1 and 0 when absent.
 */
export async function readSampleScaling(first: GeoTIFFImage, image: GeoTIFFImage): Promise<SampleScaling> {
	const metadata = ((await first.getGDALMetadata(0)) ?? {}) as Record<string, unknown>;
	const number = (text: unknown, absent: number) => (typeof text === "string" ? Number(text) : absent);
	return { nodata: image.getGDALNoData(), scale: number(metadata.SCALE, 1), offset: number(metadata.OFFSET, 0) };
}
