/**
 * The pixels of a JPEG block, as libjpeg makes them for libtiff, and so for GDAL: geotiff.js's
 * decoder reads the markers and the entropy-coded coefficients, and everything after is done
 * here the way libjpeg(-turbo) does it by default, so the samples match GDAL's exactly:
 *
 * - the inverse DCT is libjpeg's accurate integer one (jidctint.c, "islow"): the
 *   Loeffler-Ligtenberg-Moschytz algorithm with 13-bit constants, two bits of extra precision
 *   between the passes, and the same range limiting;
 * - subsampled components are brought to full size with libjpeg's "fancy" (triangle) filters
 *   for 2:1 horizontally, vertically or both, edges replicated, and by replication otherwise;
 * - YCbCr becomes RGB with libjpeg's fixed-point JFIF coefficients (jdcolor.c). libtiff asks for
 *   that when the file is YCbCr and its JPEGCOLORMODE is RGB, which GDAL always sets; any other
 *   photometric interpretation keeps the components as they are, as libtiff does.
 *
 * geotiff.js's own inverse DCT and nearest-neighbour upsampling differ from libjpeg's by a few
 * levels, and it does not convert colours at all.
 */
import { RasterInputError } from "./input-errors";

/** What this module reads of geotiff.js's JPEG reader once it has parsed a block. */
export interface ParsedJpeg {
	quantizationTables: ArrayLike<number>[];
	frames: {
		precision: number;
		scanLines: number;
		samplesPerLine: number;
		maxH: number;
		maxV: number;
		componentsOrder: number[];
		components: Record<
			string,
			{
				h: number;
				v: number;
				quantizationIdx?: number;
				quantizationTable?: ArrayLike<number>;
				blocksPerLine: number;
				blocksPerColumn: number;
				blocks: ArrayLike<number>[][];
			}
		>;
	}[];
}

function corrupt(message: string): never {
	throw new RasterInputError("invalid-raster", `JPEG: ${message}`);
}

/** libjpeg's islow constants: FIX(x) = round(x * 2^13). */
const CONST_BITS = 13;
const PASS1_BITS = 2;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/**
 * libjpeg's limit of an inverse DCT's output: the value (centred on 0) masked to 10 bits, so
 * that what a corrupt block overflows to wraps as libjpeg's table does, then clamped to 0-255.
 */
function rangeLimit(centred: number): number {
	const t = centred & 1023;
	if (t < 128) return t + 128;
	if (t < 512) return 255;
	if (t < 896) return 0;
	return t - 896;
}

/**
 * One 8 x 8 block: dequantizes `coefficients` (natural order) by `table` and writes the inverse
 * DCT's samples to `out` at `at`, `stride` apart per row. `work` holds the 64 values between
 * the passes.
 */
function inverseDct(
	coefficients: ArrayLike<number>,
	table: ArrayLike<number>,
	work: Int32Array,
	out: Uint8Array,
	at: number,
	stride: number,
): void {
	// Pass 1: columns, into `work`, scaled up by PASS1_BITS.
	for (let column = 0; column < 8; column++) {
		const c = (row: number) => (coefficients[row * 8 + column] as number) * (table[row * 8 + column] as number);
		if (
			coefficients[8 + column] === 0 &&
			coefficients[16 + column] === 0 &&
			coefficients[24 + column] === 0 &&
			coefficients[32 + column] === 0 &&
			coefficients[40 + column] === 0 &&
			coefficients[48 + column] === 0 &&
			coefficients[56 + column] === 0
		) {
			const dc = c(0) << PASS1_BITS;
			for (let row = 0; row < 8; row++) work[row * 8 + column] = dc;
			continue;
		}
		// Even part.
		let z2 = c(2);
		let z3 = c(6);
		let z1 = (z2 + z3) * FIX_0_541196100;
		let tmp2 = z1 - z3 * FIX_1_847759065;
		let tmp3 = z1 + z2 * FIX_0_765366865;
		z2 = c(0);
		z3 = c(4);
		let tmp0 = (z2 + z3) << CONST_BITS;
		let tmp1 = (z2 - z3) << CONST_BITS;
		const tmp10 = tmp0 + tmp3;
		const tmp13 = tmp0 - tmp3;
		const tmp11 = tmp1 + tmp2;
		const tmp12 = tmp1 - tmp2;
		// Odd part.
		tmp0 = c(7);
		tmp1 = c(5);
		tmp2 = c(3);
		tmp3 = c(1);
		z1 = tmp0 + tmp3;
		z2 = tmp1 + tmp2;
		z3 = tmp0 + tmp2;
		let z4 = tmp1 + tmp3;
		const z5 = (z3 + z4) * FIX_1_175875602;
		tmp0 *= FIX_0_298631336;
		tmp1 *= FIX_2_053119869;
		tmp2 *= FIX_3_072711026;
		tmp3 *= FIX_1_501321110;
		z1 *= -FIX_0_899976223;
		z2 *= -FIX_2_562915447;
		z3 = z3 * -FIX_1_961570560 + z5;
		z4 = z4 * -FIX_0_390180644 + z5;
		tmp0 += z1 + z3;
		tmp1 += z2 + z4;
		tmp2 += z2 + z3;
		tmp3 += z1 + z4;
		const shift = CONST_BITS - PASS1_BITS;
		const round = 1 << (shift - 1);
		work[column] = (tmp10 + tmp3 + round) >> shift;
		work[56 + column] = (tmp10 - tmp3 + round) >> shift;
		work[8 + column] = (tmp11 + tmp2 + round) >> shift;
		work[48 + column] = (tmp11 - tmp2 + round) >> shift;
		work[16 + column] = (tmp12 + tmp1 + round) >> shift;
		work[40 + column] = (tmp12 - tmp1 + round) >> shift;
		work[24 + column] = (tmp13 + tmp0 + round) >> shift;
		work[32 + column] = (tmp13 - tmp0 + round) >> shift;
	}
	// Pass 2: rows, from `work`, descaled by PASS1_BITS and the 8 of the transform's scale.
	const shift = CONST_BITS + PASS1_BITS + 3;
	const round = 1 << (shift - 1);
	for (let row = 0; row < 8; row++) {
		const w = row * 8;
		const o = at + row * stride;
		if (
			work[w + 1] === 0 &&
			work[w + 2] === 0 &&
			work[w + 3] === 0 &&
			work[w + 4] === 0 &&
			work[w + 5] === 0 &&
			work[w + 6] === 0 &&
			work[w + 7] === 0
		) {
			const dc = rangeLimit(((work[w] as number) + (1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3));
			out.fill(dc, o, o + 8);
			continue;
		}
		let z2 = work[w + 2] as number;
		let z3 = work[w + 6] as number;
		let z1 = (z2 + z3) * FIX_0_541196100;
		let tmp2 = z1 - z3 * FIX_1_847759065;
		let tmp3 = z1 + z2 * FIX_0_765366865;
		let tmp0 = ((work[w] as number) + (work[w + 4] as number)) << CONST_BITS;
		let tmp1 = ((work[w] as number) - (work[w + 4] as number)) << CONST_BITS;
		const tmp10 = tmp0 + tmp3;
		const tmp13 = tmp0 - tmp3;
		const tmp11 = tmp1 + tmp2;
		const tmp12 = tmp1 - tmp2;
		tmp0 = work[w + 7] as number;
		tmp1 = work[w + 5] as number;
		tmp2 = work[w + 3] as number;
		tmp3 = work[w + 1] as number;
		z1 = tmp0 + tmp3;
		z2 = tmp1 + tmp2;
		z3 = tmp0 + tmp2;
		let z4 = tmp1 + tmp3;
		const z5 = (z3 + z4) * FIX_1_175875602;
		tmp0 *= FIX_0_298631336;
		tmp1 *= FIX_2_053119869;
		tmp2 *= FIX_3_072711026;
		tmp3 *= FIX_1_501321110;
		z1 *= -FIX_0_899976223;
		z2 *= -FIX_2_562915447;
		z3 = z3 * -FIX_1_961570560 + z5;
		z4 = z4 * -FIX_0_390180644 + z5;
		tmp0 += z1 + z3;
		tmp1 += z2 + z4;
		tmp2 += z2 + z3;
		tmp3 += z1 + z4;
		out[o] = rangeLimit((tmp10 + tmp3 + round) >> shift);
		out[o + 7] = rangeLimit((tmp10 - tmp3 + round) >> shift);
		out[o + 1] = rangeLimit((tmp11 + tmp2 + round) >> shift);
		out[o + 6] = rangeLimit((tmp11 - tmp2 + round) >> shift);
		out[o + 2] = rangeLimit((tmp12 + tmp1 + round) >> shift);
		out[o + 5] = rangeLimit((tmp12 - tmp1 + round) >> shift);
		out[o + 3] = rangeLimit((tmp13 + tmp0 + round) >> shift);
		out[o + 4] = rangeLimit((tmp13 - tmp0 + round) >> shift);
	}
}

/** A component's samples: `width` x `height` of them are real, rows `stride` apart. */
interface Plane {
	samples: Uint8Array;
	width: number;
	height: number;
	stride: number;
}

/**
 * Brings a plane subsampled by `h` x `v` to full size (`width` x `height` of the image, plus
 * what the last group of samples covers past it), as libjpeg-turbo does: the triangle filters
 * for 2:1 (horizontally only when the plane is more than 2 samples wide), edges replicated,
 * else each sample repeated.
 */
function upsample(plane: Plane, h: number, v: number): Plane {
	if (h === 1 && v === 1) return plane;
	const { samples, width, height, stride } = plane;
	const outWidth = width * h;
	const outHeight = height * v;
	const out = new Uint8Array(outWidth * outHeight);
	const at = (x: number, y: number) => samples[y * stride + x] as number;
	if (h === 2 && v === 2 && width > 2) {
		for (let y = 0; y < height; y++) {
			for (let half = 0; half < 2; half++) {
				// The nearer row, and the next nearer: the one above for the upper output row.
				const far = half === 0 ? Math.max(0, y - 1) : Math.min(height - 1, y + 1);
				const row = (2 * y + half) * outWidth;
				const sum = (x: number) => at(x, y) * 3 + at(x, far);
				let last = sum(0);
				let current = last;
				let next = sum(1);
				out[row] = (current * 4 + 8) >> 4;
				out[row + 1] = (current * 3 + next + 7) >> 4;
				for (let x = 1; x < width - 1; x++) {
					last = current;
					current = next;
					next = sum(x + 1);
					out[row + 2 * x] = (current * 3 + last + 8) >> 4;
					out[row + 2 * x + 1] = (current * 3 + next + 7) >> 4;
				}
				last = current;
				current = next;
				out[row + 2 * width - 2] = (current * 3 + last + 8) >> 4;
				out[row + 2 * width - 1] = (current * 4 + 7) >> 4;
			}
		}
	} else if (h === 2 && v === 1 && width > 2) {
		for (let y = 0; y < height; y++) {
			const row = y * outWidth;
			out[row] = at(0, y);
			out[row + 1] = (at(0, y) * 3 + at(1, y) + 2) >> 2;
			for (let x = 1; x < width - 1; x++) {
				const value = at(x, y) * 3;
				out[row + 2 * x] = (value + at(x - 1, y) + 1) >> 2;
				out[row + 2 * x + 1] = (value + at(x + 1, y) + 2) >> 2;
			}
			out[row + 2 * width - 2] = (at(width - 1, y) * 3 + at(width - 2, y) + 1) >> 2;
			out[row + 2 * width - 1] = at(width - 1, y);
		}
	} else if (h === 1 && v === 2) {
		for (let y = 0; y < height; y++) {
			for (let half = 0; half < 2; half++) {
				const far = half === 0 ? Math.max(0, y - 1) : Math.min(height - 1, y + 1);
				const bias = half === 0 ? 1 : 2;
				const row = (2 * y + half) * outWidth;
				for (let x = 0; x < width; x++) out[row + x] = (at(x, y) * 3 + at(x, far) + bias) >> 2;
			}
		}
	} else {
		for (let y = 0; y < outHeight; y++) {
			for (let x = 0; x < outWidth; x++) out[y * outWidth + x] = at(Math.floor(x / h), Math.floor(y / v));
		}
	}
	return { samples: out, width: outWidth, height: outHeight, stride: outWidth };
}

/** libjpeg's YCbCr to RGB tables (jdcolor.c), fixed point with 16 fraction bits. */
const SCALE_BITS = 16;
const ONE_HALF = 1 << (SCALE_BITS - 1);
const fix = (x: number) => Math.round(x * (1 << SCALE_BITS));
const crToR = new Int32Array(256);
const cbToB = new Int32Array(256);
const crToG = new Int32Array(256);
const cbToG = new Int32Array(256);
for (let i = 0; i < 256; i++) {
	const x = i - 128;
	crToR[i] = (fix(1.402) * x + ONE_HALF) >> SCALE_BITS;
	cbToB[i] = (fix(1.772) * x + ONE_HALF) >> SCALE_BITS;
	crToG[i] = -fix(0.71414) * x;
	cbToG[i] = -fix(0.34414) * x + ONE_HALF;
}

function clamp(value: number): number {
	return Math.max(0, Math.min(255, value));
}

/**
 * The block's samples, pixel-interleaved, from a reader that has parsed it: `ycbcr` converts its
 * three components to RGB. Throws a RasterInputError for what no GeoTIFF JPEG block holds.
 */
export function jpegPixels(reader: ParsedJpeg, { ycbcr }: { ycbcr: boolean }): Uint8Array {
	const [frame] = reader.frames;
	if (!frame) corrupt("the block holds no frame");
	if (frame.precision !== 8) {
		throw new RasterInputError("unsupported-raster", `JPEG: ${frame.precision}-bit samples are not supported`);
	}
	const { samplesPerLine: width, scanLines: height, maxH, maxV } = frame;
	if (!(width > 0 && height > 0 && maxH > 0 && maxV > 0)) corrupt("the frame has no samples");
	const planes: Plane[] = [];
	const work = new Int32Array(64);
	for (const id of frame.componentsOrder) {
		const component = frame.components[id];
		if (!component) corrupt(`component ${id} is not declared`);
		const { h, v, blocksPerLine, blocksPerColumn, blocks } = component;
		if (!(h > 0 && v > 0 && maxH % h === 0 && maxV % v === 0)) {
			throw new RasterInputError(
				"unsupported-raster",
				`JPEG: sampling factors ${h} x ${v} of ${maxH} x ${maxV} are not supported`,
			);
		}
		const table =
			component.quantizationTable ??
			(component.quantizationIdx === undefined ? undefined : reader.quantizationTables[component.quantizationIdx]);
		if (!table) corrupt(`component ${id} has no quantization table`);
		const stride = blocksPerLine * 8;
		const samples = new Uint8Array(stride * blocksPerColumn * 8);
		for (let blockRow = 0; blockRow < blocksPerColumn; blockRow++) {
			const row = blocks[blockRow];
			if (!row) corrupt(`component ${id} lacks block row ${blockRow}`);
			for (let blockColumn = 0; blockColumn < blocksPerLine; blockColumn++) {
				const coefficients = row[blockColumn];
				if (!coefficients) corrupt(`component ${id} lacks block ${blockColumn} of row ${blockRow}`);
				inverseDct(coefficients, table, work, samples, blockRow * 8 * stride + blockColumn * 8, stride);
			}
		}
		// libjpeg's downsampled size: what of the plane is real, the rest padding to whole blocks.
		const plane = {
			samples,
			width: Math.ceil((width * h) / maxH),
			height: Math.ceil((height * v) / maxV),
			stride,
		};
		if (plane.width > stride || plane.height > blocksPerColumn * 8) corrupt(`component ${id} is cut short`);
		planes.push(upsample(plane, maxH / h, maxV / v));
	}
	const count = planes.length;
	if (ycbcr && count !== 3) {
		throw new RasterInputError("unsupported-raster", `JPEG: a YCbCr block holds ${count} components, not 3`);
	}
	const out = new Uint8Array(width * height * count);
	if (ycbcr) {
		const [luma, blue, red] = planes as [Plane, Plane, Plane];
		for (let y = 0; y < height; y++) {
			for (let x = 0; x < width; x++) {
				const lumaValue = luma.samples[y * luma.stride + x] as number;
				const cb = blue.samples[y * blue.stride + x] as number;
				const cr = red.samples[y * red.stride + x] as number;
				const o = (y * width + x) * 3;
				out[o] = clamp(lumaValue + (crToR[cr] as number));
				out[o + 1] = clamp(lumaValue + (((cbToG[cb] as number) + (crToG[cr] as number)) >> SCALE_BITS));
				out[o + 2] = clamp(lumaValue + (cbToB[cb] as number));
			}
		}
		return out;
	}
	for (const [c, plane] of planes.entries()) {
		for (let y = 0; y < height; y++) {
			for (let x = 0; x < width; x++) out[(y * width + x) * count + c] = plane.samples[y * plane.stride + x] as number;
		}
	}
	return out;
}
