/** numpy.percentile's default (linear) method over the non-NaN values: the tests' reference. */
export function exactPercentile(values: Float32Array, percent: number): number {
	const sorted = Float64Array.from(values.filter((value) => !Number.isNaN(value))).sort();
	const rank = ((sorted.length - 1) * percent) / 100;
	const lower = Math.floor(rank);
	const upper = Math.min(lower + 1, sorted.length - 1);
	return (sorted[lower] as number) + ((sorted[upper] as number) - (sorted[lower] as number)) * (rank - lower);
}

/**
 * numpy.histogram(values, bins, range) over the non-NaN values taken as float64: edges as
 * numpy.linspace makes them (start + i * step, the last pinned to stop), every bin holding its
 * first edge and the last bin its last edge too; without a range, [min, max] widened by 0.5
 * when they are equal and [0, 1] when there are no values.
 */
export function numpyHistogram(
	values: Float32Array,
	bins: number,
	range?: readonly [number, number],
): { edges: number[]; counts: number[]; below: number; above: number } {
	const valid = Array.from(values).filter((value) => !Number.isNaN(value));
	let [first, last] = range ?? [
		valid.reduce((min, value) => Math.min(min, value), Number.POSITIVE_INFINITY),
		valid.reduce((max, value) => Math.max(max, value), Number.NEGATIVE_INFINITY),
	];
	if (valid.length === 0 && !range) [first, last] = [0, 1];
	else if (first === last) [first, last] = [first - 0.5, last + 0.5];
	const step = (last - first) / bins;
	const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? last : i * step + first));
	const counts = new Array<number>(bins).fill(0);
	let below = 0;
	let above = 0;
	for (const value of valid) {
		if (value < first) below++;
		else if (value > last) above++;
		else {
			let bin = bins - 1;
			while (bin > 0 && value < (edges[bin] as number)) bin--;
			counts[bin] = (counts[bin] ?? 0) + 1;
		}
	}
	return { edges, counts, below, above };
}

/** The two order statistics numpy's linear percentile interpolates between, for its error bound. */
export function percentileNeighbours(values: Float32Array, percent: number): [number, number] {
	const sorted = Float64Array.from(values.filter((value) => !Number.isNaN(value))).sort();
	const rank = ((sorted.length - 1) * percent) / 100;
	return [sorted[Math.floor(rank)] as number, sorted[Math.ceil(rank)] as number];
}
