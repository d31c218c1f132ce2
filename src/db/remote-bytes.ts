/**
 * The job's count of remote bytes, for REMOTE_MAX_BYTES_PER_JOB: reservations are taken with one
 * bounded UPDATE, so concurrent invocations of a job can never together pass the limit.
 */

/** Adds `bytes` to the job's count unless that would pass `limit`; false when it would. */
export async function reserveRemoteBytes(
	db: D1Database,
	jobId: string,
	bytes: number,
	limit: number,
): Promise<boolean> {
	const result = await db
		.prepare(
			"UPDATE jobs SET remote_bytes_read = remote_bytes_read + ?2 WHERE id = ?1 AND remote_bytes_read + ?2 <= ?3",
		)
		.bind(jobId, bytes, limit)
		.run();
	return result.meta.changes === 1;
}

/** Gives back bytes reserved but not read. */
export async function releaseRemoteBytes(db: D1Database, jobId: string, bytes: number): Promise<void> {
	await db
		.prepare("UPDATE jobs SET remote_bytes_read = MAX(0, remote_bytes_read - ?2) WHERE id = ?1")
		.bind(jobId, bytes)
		.run();
}

export async function remoteBytesRead(db: D1Database, jobId: string): Promise<number> {
	const row = await db
		.prepare("SELECT remote_bytes_read FROM jobs WHERE id = ?1")
		.bind(jobId)
		.first<{ remote_bytes_read: number }>();
	return row?.remote_bytes_read ?? 0;
}
