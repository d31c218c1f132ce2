// Band-math kernels for EO Edge. Every export is a pure function over pointers
// and lengths in the exported linear memory: src/wasm/kernels.ts lays buffers
// out after heap_base(), copies data in and results out. Nothing here allocates.

/** First byte of linear memory free for the caller's buffers. */
export function heap_base(): usize {
	return __heap_base;
}

/**
 * out[i] = (a[i] - b[i]) / (a[i] + b[i]) in float32, or NaN where a pixel is
 * nodata in either band or the ratio is not finite. `out` may alias `a` or `b`:
 * each element is read before it is written.
 */
export function normalized_difference(
	a: usize,
	b: usize,
	out: usize,
	n: i32,
	nodata_a: f32,
	has_nodata_a: i32,
	nodata_b: f32,
	has_nodata_b: i32,
): void {
	// NaN never compares equal, so it stands in for "this band has no nodata value".
	const nodataA: f32 = has_nodata_a ? nodata_a : NaN;
	const nodataB: f32 = has_nodata_b ? nodata_b : NaN;
	const nodataAVec = f32x4.splat(nodataA);
	const nodataBVec = f32x4.splat(nodataB);
	const infinityVec = f32x4.splat(Infinity);
	const nanVec = f32x4.splat(NaN);
	const vectorEnd = n & ~3;
	let i = 0;
	for (; i < vectorEnd; i += 4) {
		const offset = (<usize>i) << 2;
		const va = v128.load(a + offset);
		const vb = v128.load(b + offset);
		const ratio = f32x4.div(f32x4.sub(va, vb), f32x4.add(va, vb));
		// A zero sum yields ±Infinity or NaN, so the finiteness test also covers a + b == 0;
		// NaN inputs fail it too because every comparison with NaN is false.
		let valid = f32x4.lt(f32x4.abs(ratio), infinityVec);
		valid = v128.andnot(valid, f32x4.eq(va, nodataAVec));
		valid = v128.andnot(valid, f32x4.eq(vb, nodataBVec));
		// Every rejected lane gets the same canonical NaN, whatever the division produced.
		v128.store(out + offset, v128.bitselect(ratio, nanVec, valid));
	}
	for (; i < n; i++) {
		const offset = (<usize>i) << 2;
		const x = load<f32>(a + offset);
		const y = load<f32>(b + offset);
		const ratio = (x - y) / (x + y);
		const valid = Mathf.abs(ratio) < Infinity && x !== nodataA && y !== nodataB;
		store<f32>(out + offset, valid ? ratio : NaN);
	}
}

/**
 * Summary statistics and histogram of one strip of float32 values, where any
 * non-finite value is nodata. Writes f64 result[0..6] = [count, nodata_count,
 * min, max, sum, m2] with m2 = sum of squared deviations from the mean; when
 * count is 0, min and max are NaN and sum and m2 are 0. Adds to (does not
 * reset) u32 counts[0..bins+2]: bins histogram bins, then values below
 * hist_first, then values above hist_last. Binning reproduces
 * numpy.histogram(values.astype(float64), bins, range=(hist_first, hist_last)).
 */
export function strip_stats(
	values: usize,
	n: i32,
	hist_first: f64,
	hist_last: f64,
	bins: i32,
	counts: usize,
	result: usize,
): void {
	const infinityVec = f32x4.splat(Infinity);
	const negativeInfinityVec = f32x4.splat(-Infinity);
	let countVec = i32x4.splat(0);
	let sumLowVec = f64x2.splat(0);
	let sumHighVec = f64x2.splat(0);
	let minVec = infinityVec;
	let maxVec = negativeInfinityVec;
	const vectorEnd = n & ~3;
	let i = 0;
	for (; i < vectorEnd; i += 4) {
		const v = v128.load(values + ((<usize>i) << 2));
		const finite = f32x4.lt(f32x4.abs(v), infinityVec);
		// A true lane is all ones, i.e. -1 as i32.
		countVec = i32x4.sub(countVec, finite);
		// Masked-out lanes become +0.0, which leaves the sums unchanged.
		const kept = v128.and(v, finite);
		sumLowVec = f64x2.add(sumLowVec, f64x2.promote_low_f32x4(kept));
		sumHighVec = f64x2.add(sumHighVec, f64x2.promote_low_f32x4(i32x4.shuffle(kept, kept, 2, 3, 0, 1)));
		minVec = f32x4.min(minVec, v128.bitselect(v, infinityVec, finite));
		maxVec = f32x4.max(maxVec, v128.bitselect(v, negativeInfinityVec, finite));
	}
	let count =
		i32x4.extract_lane(countVec, 0) +
		i32x4.extract_lane(countVec, 1) +
		i32x4.extract_lane(countVec, 2) +
		i32x4.extract_lane(countVec, 3);
	const sumVec = f64x2.add(sumLowVec, sumHighVec);
	let sum = f64x2.extract_lane(sumVec, 0) + f64x2.extract_lane(sumVec, 1);
	let min = Mathf.min(
		Mathf.min(f32x4.extract_lane(minVec, 0), f32x4.extract_lane(minVec, 1)),
		Mathf.min(f32x4.extract_lane(minVec, 2), f32x4.extract_lane(minVec, 3)),
	);
	let max = Mathf.max(
		Mathf.max(f32x4.extract_lane(maxVec, 0), f32x4.extract_lane(maxVec, 1)),
		Mathf.max(f32x4.extract_lane(maxVec, 2), f32x4.extract_lane(maxVec, 3)),
	);
	for (; i < n; i++) {
		const v = load<f32>(values + ((<usize>i) << 2));
		if (Mathf.abs(v) < Infinity) {
			count++;
			sum += <f64>v;
			min = Mathf.min(min, v);
			max = Mathf.max(max, v);
		}
	}

	// Second pass: deviations need the mean, and binning is a scatter that SIMD cannot do.
	const mean = sum / <f64>count;
	const binsF = <f64>bins;
	const binWidth = (hist_last - hist_first) / binsF;
	const binsPerUnit = binsF / (hist_last - hist_first);
	const lastBin = bins - 1;
	const belowSlot = counts + ((<usize>bins) << 2);
	const aboveSlot = belowSlot + 4;
	let m2: f64 = 0;
	for (let j = 0; j < n; j++) {
		const v = <f64>load<f32>(values + ((<usize>j) << 2));
		if (!(Math.abs(v) < Infinity)) continue;
		const deviation = v - mean;
		m2 += deviation * deviation;
		if (v < hist_first) {
			store<u32>(belowSlot, load<u32>(belowSlot) + 1);
		} else if (v > hist_last) {
			store<u32>(aboveSlot, load<u32>(aboveSlot) + 1);
		} else {
			// numpy's uniform-bin fast path: a first guess that can be one bin off near an
			// edge, corrected against the same edges linspace produces.
			let bin = <i32>((v - hist_first) * binsPerUnit);
			if (bin === bins) bin = lastBin;
			if (v < binEdge(bin, bins, hist_first, hist_last, binWidth)) {
				bin--;
			} else if (bin !== lastBin && v >= binEdge(bin + 1, bins, hist_first, hist_last, binWidth)) {
				bin++;
			}
			const slot = counts + ((<usize>bin) << 2);
			store<u32>(slot, load<u32>(slot) + 1);
		}
	}

	const empty = count === 0;
	store<f64>(result, <f64>count);
	store<f64>(result, <f64>(n - count), 8);
	store<f64>(result, empty ? NaN : <f64>min, 16);
	store<f64>(result, empty ? NaN : <f64>max, 24);
	store<f64>(result, sum, 32);
	store<f64>(result, m2, 40);
}

// numpy.linspace(first, last, bins + 1)[index]: arange * step + first, last edge pinned.
function binEdge(index: i32, bins: i32, first: f64, last: f64, binWidth: f64): f64 {
	return index === bins ? last : <f64>index * binWidth + first;
}
