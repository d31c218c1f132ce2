/** Every R2 object key EO Edge writes or reads is laid out here and nowhere else. */

const pad = (value: number) => String(value).padStart(6, "0");

export const objectKeys = {
	upload: (uploadId: string) => `uploads/${uploadId}.tif`,
	/** Whether a key is an upload's: what a job's usage counts as `bytes_read_uploads`. */
	isUpload: (key: string) => key.startsWith("uploads/"),
	/** A field set's FeatureCollection, the bytes as the tenant sent them. */
	fieldSet: (fieldSetId: string) => `fields/${fieldSetId}.geojson`,
	/** A strip's compressed 512 x 512 output tiles, concatenated in row-major order. */
	stripTiles: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.tiles`,
	/**
	 * A strip's output values (raw float32, row-major over its window), kept until its tiles are
	 * encoded by the histogram pass and then until the job's work objects are dropped.
	 */
	stripValues: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.values.f32`,
	/** A strip's window averaged 2 x 2 (raw float32), the source of the first overview. */
	stripHalf: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.half.f32`,
	/** A strip's quantile sketch: (key, count) pairs of uint32, see src/pipeline/publish/quantile-sketch.ts. */
	stripSketch: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/strips/${pad(stripIndex)}.sketch`,
	/**
	 * What one window of a zonal job weighed (src/processes/zonal/window-fields.ts): a binary
	 * object since windows stopped being stored as JSON; the name stays, so that a job in flight
	 * across that deploy finds its windows.
	 */
	zonalWindow: (jobId: string, stripIndex: number) => `jobs/${jobId}/work/zones/${pad(stripIndex)}.json`,
	/** Every field's statistics on every date of a zonal job, joined from its windows by publish's first step. */
	zonalStatistics: (jobId: string) => `jobs/${jobId}/work/zones/statistics.bin`,
	/**
	 * Part `part` of a zonal artifact written in parts (its fields' range) by the delivery that
	 * `writing` names, joined into the artifact by that delivery: another delivery of the same
	 * step writes parts of its own.
	 */
	zonalArtifactPart: (jobId: string, name: string, writing: string, part: number) =>
		`jobs/${jobId}/work/zones/${name}.${writing}.${pad(part)}`,
	/** A collection of fields a zonal job was sent inline, kept with the job. */
	jobZones: (jobId: string) => `jobs/${jobId}/zones.geojson`,
	/**
	 * One block of an overview level, its compressed tiles concatenated row-major; the top block's
	 * object holds every level from the coarsest down to its own, in result.tif's order.
	 */
	overviewBlockTiles: (jobId: string, level: number, block: number) =>
		`jobs/${jobId}/work/overviews/${level}/${pad(block)}.tiles`,
	/** A block's region averaged 2 x 2 (raw float32, row-major): what the next level's blocks read. */
	overviewBlockHalf: (jobId: string, level: number, block: number) =>
		`jobs/${jobId}/work/overviews/${level}/${pad(block)}.half.f32`,
	/** result.tif's header and IFDs, written once its layout is known. */
	resultHeader: (jobId: string) => `jobs/${jobId}/work/result/header.bin`,
	/** Where every byte range of result.tif is read from (JSON), for the invocations that upload its parts. */
	resultLayout: (jobId: string) => `jobs/${jobId}/work/result/layout.json`,
	/** Intermediate objects of a job (strips, overviews), dropped once it has succeeded. */
	workPrefix: (jobId: string) => `jobs/${jobId}/work/`,
	/** Everything a job wrote: intermediate objects and artifacts. */
	jobPrefix: (jobId: string) => `jobs/${jobId}/`,
	artifact: (jobId: string, name: string) => `jobs/${jobId}/artifacts/${name}`,
};
