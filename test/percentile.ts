/** numpy.percentile's default (linear) method over the non-NaN values: the tests' reference. */
export function exactPercentile(values: Float32Array, percent: number): number {
	const sorted = Float64Array.from(values.filter((value) => !Number.isNaN(value))).sort();
	const rank = ((sorted.length - 1) * percent) / 100;
	const lower = Math.floor(rank);
	const upper = Math.min(lower + 1, sorted.length - 1);
	return (sorted[lower] as number) + ((sorted[upper] as number) - (sorted[lower] as number)) * (rank - lower);
}
