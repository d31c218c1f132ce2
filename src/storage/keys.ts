/** Every R2 object key EO Edge writes or reads is laid out here and nowhere else. */

export const objectKeys = {
	upload: (uploadId: string) => `uploads/${uploadId}.tif`,
	strip: (jobId: string, stripIndex: number) => `jobs/${jobId}/strips/${String(stripIndex).padStart(6, "0")}.f32`,
	stripsPrefix: (jobId: string) => `jobs/${jobId}/strips/`,
	/** Everything a job wrote: strips and artifacts. */
	jobPrefix: (jobId: string) => `jobs/${jobId}/`,
	artifact: (jobId: string, name: string) => `jobs/${jobId}/artifacts/${name}`,
};
