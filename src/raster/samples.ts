/**
 * The sample types a band's pixels can be decoded to, shared by the window reader (which
 * decodes into arrays of them) and the Wasm kernels (which read them in place).
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
