/**
 * The sample types a band's pixels can be decoded to, shared by the window reader (which
 * decodes into arrays of them) and the Wasm kernels (which read them in place), and the copy of
 * rows between arrays of them that both sides of a window use.
 */

/** The typed array that holds each sample type, as geotiff.js decodes it. */
export const SAMPLE_ARRAYS = {
	uint8: Uint8Array,
	int8: Int8Array,
	uint16: Uint16Array,
	int16: Int16Array,
	uint32: Uint32Array,
	int32: Int32Array,
	float32: Float32Array,
	float64: Float64Array,
} as const;

export type SampleType = keyof typeof SAMPLE_ARRAYS;

export type SampleArray =
	| Uint8Array
	| Int8Array
	| Uint16Array
	| Int16Array
	| Uint32Array
	| Int32Array
	| Float32Array
	| Float64Array;

/** The sample type of an array geotiff.js decoded. */
export function sampleTypeOf(data: ArrayBufferView): SampleType {
	for (const [type, array] of Object.entries(SAMPLE_ARRAYS)) {
		if (data instanceof array) return type as SampleType;
	}
	throw new TypeError(`unsupported sample array ${Object.prototype.toString.call(data)}`);
}

/**
 * Copies `rows` rows of `columns` samples, each `stride` apart, from `values` (the first at
 * `from`, rows `fromStep` apart) into `destination` (from `to`, rows `toStep` apart). A module
 * function rather than a window's closure, whose code V8 compiles for each window again: zonal
 * compute copies a few dozen short rows per field and band, which took it 30 ms in the window's
 * copyArea and 24 ms here (bench:fields, clustered, 1 date).
 */
export function copyRows(
	values: SampleArray,
	from: number,
	fromStep: number,
	destination: SampleArray,
	to: number,
	toStep: number,
	rows: number,
	columns: number,
	stride: number,
): void {
	// Each row a view made by the constructor, which V8 makes faster than `subarray`: the rows of
	// bench:decode's Deflate window (16 tiles) were copied in about 0.2 ms less of 2.2 (ad hoc).
	const View = values.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => SampleArray;
	const { buffer, byteOffset, BYTES_PER_ELEMENT } = values;
	for (let row = 0; row < rows; row++) {
		const source = from + row * fromStep;
		const target = to + row * toStep;
		if (stride === 1) {
			destination.set(new View(buffer, byteOffset + source * BYTES_PER_ELEMENT, columns), target);
		} else {
			for (let column = 0; column < columns; column++) {
				destination[target + column] = values[source + column * stride] as number;
			}
		}
	}
}
