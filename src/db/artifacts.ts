/** SQL of a job's artifacts. */
import { placeholders } from "./sql";

export interface ArtifactRecord {
	name: string;
	mediaType: string;
	bytes: number;
	objectKey: string;
}

export async function listArtifacts(db: D1Database, tenantId: string, jobId: string): Promise<ArtifactRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT a.name, a.media_type, a.bytes, a.object_key FROM artifacts a JOIN jobs j ON j.id = a.job_id
			 WHERE a.job_id = ? AND j.tenant_id = ? ORDER BY a.name`,
		)
		.bind(jobId, tenantId)
		.all<{ name: string; media_type: string; bytes: number; object_key: string }>();
	return results.map((row) => ({
		name: row.name,
		mediaType: row.media_type,
		bytes: row.bytes,
		objectKey: row.object_key,
	}));
}

/** The artifacts of each of the tenant's jobs among `jobIds`, in one query (a page of a listing). */
export async function listArtifactsOfJobs(
	db: D1Database,
	tenantId: string,
	jobIds: readonly string[],
): Promise<Map<string, ArtifactRecord[]>> {
	const byJob = new Map<string, ArtifactRecord[]>(jobIds.map((id) => [id, []]));
	if (jobIds.length === 0) return byJob;
	const { results } = await db
		.prepare(
			`SELECT a.job_id, a.name, a.media_type, a.bytes, a.object_key FROM artifacts a JOIN jobs j ON j.id = a.job_id
			 WHERE j.tenant_id = ? AND a.job_id IN (${placeholders(jobIds)}) ORDER BY a.job_id, a.name`,
		)
		.bind(tenantId, ...jobIds)
		.all<{ job_id: string; name: string; media_type: string; bytes: number; object_key: string }>();
	for (const row of results) {
		byJob.get(row.job_id)?.push({
			name: row.name,
			mediaType: row.media_type,
			bytes: row.bytes,
			objectKey: row.object_key,
		});
	}
	return byJob;
}
