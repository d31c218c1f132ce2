/**
 * What the window reader does to a decoded block before slicing rows out of it: bring its
 * samples into this machine's byte order, then undo horizontal differencing (TIFF predictor 2).
 *
 * The order matters for big-endian files: differences are sums of whole samples, so they must be
 * added up in the samples' own byte order. geotiff.js adds them up as host-order words, which
 * scrambles every big-endian 16- and 32-bit file written with predictor 2 (and it refuses
 * 64-bit samples).
 */
import { RasterInputError } from "./input-errors";

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of every whole `bytesPerSample` sample of `buffer`, in place. */
export function reverseSampleBytes(buffer: ArrayBuffer, bytesPerSample: number): void {
	const samples = Math.floor(buffer.byteLength / bytesPerSample);
	if (bytesPerSample === 2) {
		const words = new Uint16Array(buffer, 0, samples);
		for (let i = 0; i < samples; i++) {
			const word = words[i] as number;
			words[i] = (word >>> 8) | ((word & 0xff) << 8);
		}
		return;
	}
	const bytes = new Uint8Array(buffer, 0, samples * bytesPerSample);
	for (let start = 0; start < bytes.length; start += bytesPerSample) {
		for (let low = start, high = start + bytesPerSample - 1; low < high; low++, high--) {
			const byte = bytes[low] as number;
			bytes[low] = bytes[high] as number;
			bytes[high] = byte;
		}
	}
}

/** A decoded block's layout, as far as predictor 2 needs it. */
export interface DifferencedBlock {
	/** Samples per row of the block (its width times the samples each pixel holds in it). */
	rowSamples: number;
	/** Samples between a sample and the one it was differenced against: the pixel's sample count. */
	stride: number;
	bytesPerSample: number;
}

/**
 * Refuses a decoded block that is not whole rows of `rowBytes`. Predictors are undone row by
 * row, so a corrupt block's partial last row would otherwise be read as differences (or, in
 * geotiff.js, throw a RangeError that names nothing).
 */
export function checkWholeRows(byteLength: number, rowBytes: number): void {
	if (byteLength % rowBytes !== 0) {
		throw new RasterInputError(
			"invalid-raster",
			`the block decodes to ${byteLength} bytes, not whole rows of ${rowBytes}`,
		);
	}
}

/**
 * Undoes predictor 2 on a block already in host byte order: each sample was stored as its
 * difference from the same sample of the pixel to its left, in unsigned arithmetic that wraps
 * around (as libtiff's does). A block that is not whole rows is refused.
 */
export function undoHorizontalDifferencing(buffer: ArrayBuffer, block: DifferencedBlock): void {
	const { rowSamples, stride, bytesPerSample } = block;
	checkWholeRows(buffer.byteLength, rowSamples * bytesPerSample);
	const length = buffer.byteLength / bytesPerSample;
	// A view per width, as sums wrap at the width; 64-bit words need BigInt arithmetic.
	switch (bytesPerSample) {
		case 1:
			addUpRows(new Uint8Array(buffer, 0, length), rowSamples, stride, 0xff);
			break;
		case 2:
			addUpRows(new Uint16Array(buffer, 0, length), rowSamples, stride, 0xffff);
			break;
		case 4:
			addUpRows(new Uint32Array(buffer, 0, length), rowSamples, stride, 0xffffffff);
			break;
		case 8:
			addUpRows64(new BigUint64Array(buffer, 0, length), rowSamples, stride);
			break;
		default:
			throw new Error(`predictor 2 needs 1, 2, 4 or 8 bytes per sample, not ${bytesPerSample}`);
	}
}

/**
 * Running sums along each row, one per interleaved sample, kept in a local rather than reread
 * from the array. `mask` wraps a sum to the word's width (`>>> 0` keeps 32-bit sums unsigned).
 */
function addUpRows(words: Uint8Array | Uint16Array | Uint32Array, rowSamples: number, stride: number, mask: number) {
	for (let start = 0; start < words.length; start += rowSamples) {
		for (let sample = 0; sample < stride; sample++) {
			let sum = words[start + sample] as number;
			for (let i = start + sample + stride; i < start + rowSamples; i += stride) {
				sum = ((sum + (words[i] as number)) & mask) >>> 0;
				words[i] = sum;
			}
		}
	}
}

function addUpRows64(words: BigUint64Array, rowSamples: number, stride: number) {
	for (let start = 0; start < words.length; start += rowSamples) {
		for (let i = start + stride; i < start + rowSamples; i++) {
			words[i] = BigInt.asUintN(64, (words[i] as bigint) + (words[i - stride] as bigint));
		}
	}
}
