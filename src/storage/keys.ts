/** Every R2 object key EO Edge writes or reads is laid out here and nowhere else. */

const pad = (value: number) => String(value).padStart(6, "0");

export const objectKeys = {
	upload: (uploadId: string) => `uploads/${uploadId}.tif`,
	/** A strip's compressed 512 x 512 output tiles, concatenated in row-major order. */
	stripTiles: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.tiles`,
	/** A strip's window averaged 2 x 2 (raw float32), the source of the first overview. */
	stripHalf: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.half.f32`,
	/** A strip's quantile sketch: (key, count) pairs of uint32, see src/pipeline/publish/quantile-sketch.ts. */
	stripSketch: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.sketch`,
	/** One tile row of an overview level, compressed tiles concatenated, before assembly. */
	overviewTiles: (jobId: string, level: number, tileRow: number) =>
		`jobs/${jobId}/work/overviews/${level}/${pad(tileRow)}.tiles`,
	/** Intermediate objects of a job (strips, overviews), dropped once it has succeeded. */
	workPrefix: (jobId: string) => `jobs/${jobId}/work/`,
	/** Everything a job wrote: intermediate objects and artifacts. */
	jobPrefix: (jobId: string) => `jobs/${jobId}/`,
	artifact: (jobId: string, name: string) => `jobs/${jobId}/artifacts/${name}`,
};
