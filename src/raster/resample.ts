/**
 * Resampling one input onto a window of the target grid, as `gdalwarp -ot Float32` does it for
 * grids that targetGrid accepts (one CRS, integer pixel-size ratios, origins on the finest grid).
 *
 * Every method here weighs source pixels by a product of a column weight and a row weight, so
 * each axis is worked out once per window ({@link AxisKernel}) and the pixels only multiply.
 * What gdalwarp 3.6 does, and so what is done here (checked against it in
 * test/fixtures/geometry/generate.py's cases):
 * - `nearest`: the source pixel holding the target pixel's centre. A centre on a source pixel
 *   edge (an even factor onto a coarser grid) takes the pixel after the edge, as GDAL's
 *   `floor(x + 1e-10)` does; the exact unit arithmetic of the mapping finds the same pixel.
 * - `bilinear`: a triangle kernel of radius one source pixel, widened to one target pixel when the
 *   target is coarser (GDAL's general kernel scaled by the ratio; a 2x2 mean it is not). Nodata
 *   neighbours are left out and the rest re-weighted; if the pixel holding the centre is nodata,
 *   the target pixel is nodata.
 * - `average`: each source pixel weighs by the length it shares with the target pixel along each
 *   axis, nodata left out. Onto a finer grid this is the one source pixel holding the target
 *   pixel, the same as nearest.
 * At the raster's outer edge gdalwarp leaves out the neighbours beyond the raster and re-weights
 * the rest (for 2x2 bilinear, the same as repeating the edge pixels), a target pixel whose centre
 * lies outside the raster is nodata for nearest and bilinear, and average weighs the part of a
 * target pixel beyond the raster as if the edge pixel went on. All three are done here, so the
 * edge matches gdalwarp with no slack. Two gdalwarp 3.6 artefacts of its chunking are not copied:
 * onto a coarser grid its bilinear kernel is scaled by the target window's size over the source
 * window's rather than by the pixel sizes' ratio, which differ when the input does not cover the
 * target (here: the ratio, as when it does); and onto a finer grid its average repeats an input's
 * first row and column over up to one input pixel of target pixels before them (here: nodata).
 * NaN samples of a float band are nodata too, whatever the band's nodata value.
 */
import type { AxisMapping, InputMapping } from "./grid";
import type { PixelWindow } from "./read";
import { SAMPLE_ARRAYS, type SampleArray, sampleTypeOf } from "./samples";

export const RESAMPLING_METHODS = ["nearest", "bilinear", "average"] as const;
export type ResamplingMethod = (typeof RESAMPLING_METHODS)[number];

/**
 * For each target index along one axis (of the target window): the source pixels that contribute
 * to it, as `count` consecutive indices from `first` (inside the source raster) with their weights,
 * and the source index holding the target pixel's centre (-1 when outside the source raster).
 */
interface AxisKernel {
	first: Int32Array;
	count: Int32Array;
	centre: Int32Array;
	/** `taps` weights per target index; the first `count` are used. */
	weights: Float64Array;
	taps: number;
}

function axisKernel(
	axis: AxisMapping,
	sourceSize: number,
	start: number,
	end: number,
	method: ResamplingMethod,
): AxisKernel {
	const { targetStep: t, sourceStep: s, offset } = axis;
	const length = end - start;
	// Bilinear's kernel radius in source pixels: one, or one target pixel onto a coarser grid.
	const radius = Math.max(1, t / s);
	const taps = method === "nearest" ? 1 : method === "bilinear" ? 2 * Math.ceil(radius) + 1 : Math.ceil(t / s) + 1;
	const kernel: AxisKernel = {
		first: new Int32Array(length),
		count: new Int32Array(length),
		centre: new Int32Array(length),
		weights: new Float64Array(length * taps),
		taps,
	};
	for (let k = 0; k < length; k++) {
		const i = start + k;
		// The centre in source pixels, exactly: ((2i + 1) t / 2 - offset) / s.
		const centreNumerator = (2 * i + 1) * t - 2 * offset;
		const centreIndex = Math.floor(centreNumerator / (2 * s));
		const centre = centreIndex >= 0 && centreIndex < sourceSize ? centreIndex : -1;
		kernel.centre[k] = centre;
		let from: number;
		let to: number;
		let weightOf: (j: number) => number;
		if (method === "average") {
			// Units shared by source pixel j and target pixel i.
			const left = i * t;
			const right = left + t;
			from = Math.floor((left - offset) / s);
			to = Math.ceil((right - offset) / s);
			weightOf = (j) => Math.min(right, offset + (j + 1) * s) - Math.max(left, offset + j * s);
		} else if (centre < 0) {
			continue;
		} else if (method === "nearest") {
			from = centre;
			to = centre + 1;
			weightOf = () => 1;
		} else {
			const position = centreNumerator / (2 * s);
			from = Math.floor(position - 0.5 - radius) + 1;
			to = Math.ceil(position - 0.5 + radius);
			weightOf = (j) => Math.max(0, 1 - Math.abs(j + 0.5 - position) / radius);
		}
		const first = Math.max(from, 0);
		const last = Math.min(to, sourceSize) - 1;
		if (last < first) continue;
		kernel.first[k] = first;
		kernel.count[k] = last - first + 1;
		for (let j = first; j <= last; j++) kernel.weights[k * taps + j - first] = weightOf(j);
		if (method === "average") {
			// gdalwarp weighs the part of a target pixel beyond the raster as if the edge pixel went on.
			for (let j = from; j < first; j++) kernel.weights[k * taps] = (kernel.weights[k * taps] ?? 0) + weightOf(j);
			for (let j = last + 1; j < to; j++) {
				kernel.weights[k * taps + last - first] = (kernel.weights[k * taps + last - first] ?? 0) + weightOf(j);
			}
		}
	}
	return kernel;
}

/** The source indices [start, end) an axis kernel reads, or null when it reads none. */
function kernelSpan(kernel: AxisKernel): [number, number] | null {
	let start = Number.POSITIVE_INFINITY;
	let end = Number.NEGATIVE_INFINITY;
	for (let k = 0; k < kernel.first.length; k++) {
		const count = kernel.count[k] ?? 0;
		if (count === 0) continue;
		const first = kernel.first[k] ?? 0;
		start = Math.min(start, first);
		end = Math.max(end, first + count);
	}
	return end > start ? [start, end] : null;
}

/**
 * Whether a sample is nodata, compared as GDAL compares: in the band's type. A nodata value the
 * integer type cannot hold (negative, fractional, too large) marks no sample; a float32 band
 * compares with the nodata value rounded to float32. NaN is always nodata.
 */
function nodataTest(samples: SampleArray, nodata: number | null): (value: number) => boolean {
	if (nodata === null || Number.isNaN(nodata)) return Number.isNaN;
	const sampleType = sampleTypeOf(samples);
	const inBandType = SAMPLE_ARRAYS[sampleType].of(nodata)[0];
	if (!sampleType.startsWith("float") && inBandType !== nodata) return Number.isNaN;
	return (value) => value === inBandType || Number.isNaN(value);
}

/** What one target window needs of one input, and how to resample it once read. */
export interface ResamplePlan {
	/** The source pixels to read (clamped to the source raster), or null when the window lies wholly outside it. */
	readonly sourceWindow: PixelWindow | null;
	/**
	 * Resamples the source window's samples (row-major, `sourceWindow`'s size, null when
	 * `sourceWindow` is) into the target window, row-major: float32, not rounded back to the
	 * sample type; nodata and pixels outside the input are NaN.
	 */
	resample(samples: SampleArray | null, nodata: number | null): Float32Array;
}

/**
 * Plans resampling one input (its mapping from targetGrid) onto a window of the target grid. The
 * source window is only what the window needs (a 20 m input under a 10 m window reads a quarter
 * of the pixels), plus the neighbours bilinear weighs. An input whose mapping is `identity` can
 * be read with the target window itself instead; planning it still works (as a copy).
 */
export function planResample(mapping: InputMapping, window: PixelWindow, method: ResamplingMethod): ResamplePlan {
	const columns = axisKernel(mapping.columns, mapping.grid.width, window.colStart, window.colEnd, method);
	const rows = axisKernel(mapping.rows, mapping.grid.height, window.rowStart, window.rowEnd, method);
	const columnSpan = kernelSpan(columns);
	const rowSpan = kernelSpan(rows);
	const sourceWindow =
		columnSpan && rowSpan
			? { rowStart: rowSpan[0], rowEnd: rowSpan[1], colStart: columnSpan[0], colEnd: columnSpan[1] }
			: null;
	const width = window.colEnd - window.colStart;
	const height = window.rowEnd - window.rowStart;
	return {
		sourceWindow,
		resample(samples, nodata) {
			const output = new Float32Array(width * height).fill(Number.NaN);
			if (sourceWindow === null || samples === null) return output;
			const sourceWidth = sourceWindow.colEnd - sourceWindow.colStart;
			if (samples.length !== sourceWidth * (sourceWindow.rowEnd - sourceWindow.rowStart)) {
				throw new RangeError(
					`resample expects ${sourceWidth} x ${sourceWindow.rowEnd - sourceWindow.rowStart} samples`,
				);
			}
			const isNodata = nodataTest(samples, nodata);
			const needsCentre = method !== "average";
			for (let r = 0; r < height; r++) {
				const rowCount = rows.count[r] ?? 0;
				if (rowCount === 0) continue;
				const rowFirst = (rows.first[r] ?? 0) - sourceWindow.rowStart;
				const centreRow = (rows.centre[r] ?? 0) - sourceWindow.rowStart;
				for (let c = 0; c < width; c++) {
					const columnCount = columns.count[c] ?? 0;
					if (columnCount === 0) continue;
					const columnFirst = (columns.first[c] ?? 0) - sourceWindow.colStart;
					if (needsCentre) {
						const centreValue =
							samples[centreRow * sourceWidth + (columns.centre[c] ?? 0) - sourceWindow.colStart] ?? 0;
						if (isNodata(centreValue)) continue;
						if (method === "nearest") {
							output[r * width + c] = centreValue;
							continue;
						}
					}
					let sum = 0;
					let weightSum = 0;
					for (let y = 0; y < rowCount; y++) {
						const rowWeight = rows.weights[r * rows.taps + y] ?? 0;
						const offset = (rowFirst + y) * sourceWidth + columnFirst;
						for (let x = 0; x < columnCount; x++) {
							const value = samples[offset + x] ?? 0;
							const weight = rowWeight * (columns.weights[c * columns.taps + x] ?? 0);
							if (weight === 0 || isNodata(value)) continue;
							sum += weight * value;
							weightSum += weight;
						}
					}
					if (weightSum > 0) output[r * width + c] = sum / weightSum;
				}
			}
			return output;
		},
	};
}
