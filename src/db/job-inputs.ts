/** SQL of a job's resolved inputs. */

/** A resolved input: an upload's R2 object, or a remote COG (uploadId and objectKey null). */
export interface JobInputRecord {
	name: string;
	uploadId: string | null;
	href: string | null;
	band: number;
	objectKey: string | null;
	bytes: number;
	/** A remote input's strong ETag when ingest probed it, which later reads must match; else null. */
	etag: string | null;
}

export async function saveJobInputs(db: D1Database, jobId: string, inputs: readonly JobInputRecord[]): Promise<void> {
	const statement = db.prepare(
		`INSERT INTO job_inputs (job_id, name, upload_id, href, band, object_key, bytes, etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (job_id, name) DO UPDATE SET upload_id = excluded.upload_id, href = excluded.href,
		   band = excluded.band, object_key = excluded.object_key, bytes = excluded.bytes, etag = excluded.etag`,
	);
	await db.batch(
		inputs.map((input) =>
			statement.bind(
				jobId,
				input.name,
				input.uploadId,
				input.href,
				input.band,
				input.objectKey,
				input.bytes,
				input.etag,
			),
		),
	);
}

export async function listJobInputs(db: D1Database, jobId: string): Promise<JobInputRecord[]> {
	const { results } = await db
		.prepare(
			"SELECT name, upload_id, href, band, object_key, bytes, etag FROM job_inputs WHERE job_id = ? ORDER BY name",
		)
		.bind(jobId)
		.all<{
			name: string;
			upload_id: string | null;
			href: string | null;
			band: number;
			object_key: string | null;
			bytes: number;
			etag: string | null;
		}>();
	return results.map((row) => ({
		name: row.name,
		uploadId: row.upload_id,
		href: row.href,
		band: row.band,
		objectKey: row.object_key,
		bytes: row.bytes,
		etag: row.etag,
	}));
}
