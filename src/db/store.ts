/**
 * store's state in D1 (migrations/0010): the overview tree's blocks and result.tif's multipart
 * upload with its parts. Every completion is recorded and counted in one transaction, so a
 * redelivered block or part never counts twice and exactly the set of done rows says when a
 * level, or the upload, is complete.
 */

const now = () => new Date().toISOString();

function placeholders(values: readonly unknown[]): string {
	return values.map(() => "?").join(", ");
}

/**
 * Each window's tile byte counts, without the rest of its results: recorded by the pass that
 * encoded its tiles, compute or (when compute left that to it) the histogram pass.
 */
export async function listWindowTileBytes(db: D1Database, jobId: string): Promise<Map<number, number[]>> {
	const { results } = await db
		.prepare(
			`SELECT strip_index, COALESCE(json_extract(stats_json, '$.tile_bytes'), json_extract(histogram_json, '$.tile_bytes'))
			 AS tile_bytes FROM job_strips
			 WHERE job_id = ? AND done_at IS NOT NULL ORDER BY strip_index`,
		)
		.bind(jobId)
		.all<{ strip_index: number; tile_bytes: string | null }>();
	return new Map(
		results.flatMap((row) =>
			row.tile_bytes === null ? [] : [[row.strip_index, JSON.parse(row.tile_bytes) as number[]] as const],
		),
	);
}

export interface OverviewBlockRecord {
	level: number;
	block: number;
	/** Byte counts of its tiles, row-major, per level it built; null until it is done. */
	tileBytes: number[][] | null;
	done: boolean;
}

/**
 * Records the tree's blocks once, `blocks` of each level (one statement a level, however many
 * blocks); a redelivery finds them, and whichever are done, as they are.
 */
export async function saveOverviewBlocks(
	db: D1Database,
	jobId: string,
	levels: readonly { level: number; blocks: number }[],
): Promise<void> {
	const insert = db.prepare(
		`WITH RECURSIVE block(number) AS (SELECT 0 UNION ALL SELECT number + 1 FROM block WHERE number + 1 < ?3)
		 INSERT OR IGNORE INTO job_overview_blocks (job_id, level, block) SELECT ?1, ?2, number FROM block`,
	);
	await db.batch(levels.map(({ level, blocks }) => insert.bind(jobId, level, blocks)));
}

interface OverviewBlockRow {
	level: number;
	block: number;
	tile_bytes_json: string | null;
	done_at: string | null;
}

function toBlock(row: OverviewBlockRow): OverviewBlockRecord {
	return {
		level: row.level,
		block: row.block,
		tileBytes: row.tile_bytes_json === null ? null : (JSON.parse(row.tile_bytes_json) as number[][]),
		done: row.done_at !== null,
	};
}

export async function getOverviewBlock(
	db: D1Database,
	jobId: string,
	level: number,
	block: number,
): Promise<OverviewBlockRecord | null> {
	const row = await db
		.prepare(
			"SELECT level, block, tile_bytes_json, done_at FROM job_overview_blocks WHERE job_id = ? AND level = ? AND block = ?",
		)
		.bind(jobId, level, block)
		.first<OverviewBlockRow>();
	return row ? toBlock(row) : null;
}

/** The job's blocks, every level's or one level's, in order. */
export async function listOverviewBlocks(
	db: D1Database,
	jobId: string,
	level: number | null = null,
): Promise<OverviewBlockRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT level, block, tile_bytes_json, done_at FROM job_overview_blocks
			 WHERE job_id = ?1 AND (?2 IS NULL OR level = ?2) ORDER BY level, block`,
		)
		.bind(jobId, level)
		.all<OverviewBlockRow>();
	return results.map(toBlock);
}

export interface Completion {
	remaining: number;
	total: number;
}

/**
 * Marks a block done with its tiles' byte counts (unless it already was: `tileBytes` null only
 * counts) and counts what is left of its level, in one transaction.
 */
export async function completeOverviewBlock(
	db: D1Database,
	jobId: string,
	level: number,
	block: number,
	tileBytes: readonly (readonly number[])[] | null,
): Promise<Completion> {
	const record = tileBytes
		? [
				db
					.prepare(
						`UPDATE job_overview_blocks SET tile_bytes_json = ?, done_at = ?
						 WHERE job_id = ? AND level = ? AND block = ? AND done_at IS NULL`,
					)
					.bind(JSON.stringify(tileBytes), now(), jobId, level, block),
			]
		: [];
	const results = await db.batch<{ done: number; total: number }>([
		...record,
		db
			.prepare(
				"SELECT COUNT(done_at) AS done, COUNT(*) AS total FROM job_overview_blocks WHERE job_id = ? AND level = ?",
			)
			.bind(jobId, level),
	]);
	const counts = results.at(-1);
	const row = counts?.results[0];
	if (!row || row.total === 0) throw new Error(`job ${jobId} has no overview blocks at level ${level}`);
	return { remaining: row.total - row.done, total: row.total };
}

export interface ResultUploadRecord {
	objectKey: string;
	multipartId: string;
	partBytes: number;
	partCount: number;
	totalBytes: number;
	completedAt: string | null;
	abortedAt: string | null;
}

interface ResultUploadRow {
	object_key: string;
	multipart_id: string;
	part_bytes: number;
	part_count: number;
	total_bytes: number;
	completed_at: string | null;
	aborted_at: string | null;
}

function toResultUpload(row: ResultUploadRow): ResultUploadRecord {
	return {
		objectKey: row.object_key,
		multipartId: row.multipart_id,
		partBytes: row.part_bytes,
		partCount: row.part_count,
		totalBytes: row.total_bytes,
		completedAt: row.completed_at,
		abortedAt: row.aborted_at,
	};
}

const SELECT_RESULT_UPLOAD = `SELECT object_key, multipart_id, part_bytes, part_count, total_bytes, completed_at, aborted_at
	 FROM job_result_uploads WHERE job_id = ?`;

export async function getResultUpload(db: D1Database, jobId: string): Promise<ResultUploadRecord | null> {
	const row = await db.prepare(SELECT_RESULT_UPLOAD).bind(jobId).first<ResultUploadRow>();
	return row ? toResultUpload(row) : null;
}

/**
 * Records the job's result upload and its parts, only while the job is live and only once: the
 * upload recorded first is returned (compare its multipartId with the one just created), or null
 * when the job has ended (its cleanup may already have run, so the caller aborts what it made).
 */
export async function recordResultUpload(
	db: D1Database,
	jobId: string,
	upload: Omit<ResultUploadRecord, "completedAt" | "abortedAt">,
): Promise<ResultUploadRecord | null> {
	const [, , recorded] = await db.batch<ResultUploadRow>([
		db
			.prepare(
				`INSERT INTO job_result_uploads (job_id, object_key, multipart_id, part_bytes, part_count, total_bytes, created_at)
				 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
				 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND status IN ('queued', 'running'))
				 ON CONFLICT (job_id) DO NOTHING`,
			)
			.bind(jobId, upload.objectKey, upload.multipartId, upload.partBytes, upload.partCount, upload.totalBytes, now()),
		db
			.prepare(
				`WITH RECURSIVE part(number) AS (SELECT 1 UNION ALL SELECT number + 1 FROM part WHERE number < ?2)
				 INSERT OR IGNORE INTO job_result_parts (job_id, part_number)
				 SELECT ?1, number FROM part WHERE EXISTS (SELECT 1 FROM job_result_uploads WHERE job_id = ?1 AND part_count = ?2)`,
			)
			.bind(jobId, upload.partCount),
		db.prepare(SELECT_RESULT_UPLOAD).bind(jobId),
	]);
	const row = recorded?.results[0];
	return row ? toResultUpload(row) : null;
}

/** Whether each of `parts` is done. */
export async function resultPartsDone(db: D1Database, jobId: string, parts: readonly number[]): Promise<Set<number>> {
	if (parts.length === 0) return new Set();
	const { results } = await db
		.prepare(
			`SELECT part_number FROM job_result_parts
			 WHERE job_id = ? AND done_at IS NOT NULL AND part_number IN (${placeholders(parts)})`,
		)
		.bind(jobId, ...parts)
		.all<{ part_number: number }>();
	return new Set(results.map((row) => row.part_number));
}

/**
 * Records a part's upload (its ETag replaces an earlier upload's) and counts the parts left, in
 * one transaction; `alreadyDone` when an earlier delivery had recorded it.
 */
export async function completeResultPart(
	db: D1Database,
	jobId: string,
	part: number,
	etag: string,
): Promise<Completion & { alreadyDone: boolean }> {
	const [before, , counts] = await db.batch<{ done_at?: string | null; done?: number; total?: number }>([
		db.prepare("SELECT done_at FROM job_result_parts WHERE job_id = ? AND part_number = ?").bind(jobId, part),
		db
			.prepare(
				"UPDATE job_result_parts SET etag = ?, done_at = COALESCE(done_at, ?) WHERE job_id = ? AND part_number = ?",
			)
			.bind(etag, now(), jobId, part),
		db.prepare("SELECT COUNT(done_at) AS done, COUNT(*) AS total FROM job_result_parts WHERE job_id = ?").bind(jobId),
	]);
	const previous = before?.results[0];
	const row = counts?.results[0];
	if (!previous || !row) throw new Error(`job ${jobId} has no result part ${part}`);
	return {
		remaining: (row.total ?? 0) - (row.done ?? 0),
		total: row.total ?? 0,
		alreadyDone: previous.done_at !== null && previous.done_at !== undefined,
	};
}

/** Every part with the ETag of its last upload, for completing the upload. */
export async function listResultParts(db: D1Database, jobId: string): Promise<R2UploadedPart[]> {
	const { results } = await db
		.prepare(
			"SELECT part_number, etag FROM job_result_parts WHERE job_id = ? AND etag IS NOT NULL ORDER BY part_number",
		)
		.bind(jobId)
		.all<{ part_number: number; etag: string }>();
	return results.map((row) => ({ partNumber: row.part_number, etag: row.etag }));
}

/** Marks the upload completed unless it was aborted; false when it was (or is already completed). */
export async function markResultUploadCompleted(db: D1Database, jobId: string): Promise<boolean> {
	const result = await db
		.prepare(
			`UPDATE job_result_uploads SET completed_at = ?
			 WHERE job_id = ? AND completed_at IS NULL AND aborted_at IS NULL`,
		)
		.bind(now(), jobId)
		.run();
	return result.meta.changes > 0;
}

export async function markResultUploadAborted(db: D1Database, jobId: string): Promise<void> {
	await db
		.prepare(
			"UPDATE job_result_uploads SET aborted_at = ? WHERE job_id = ? AND completed_at IS NULL AND aborted_at IS NULL",
		)
		.bind(now(), jobId)
		.run();
}

/** The uploads among `jobIds`' that are neither completed nor aborted. */
export async function listOpenResultUploads(
	db: D1Database,
	jobIds: readonly string[],
): Promise<(ResultUploadRecord & { jobId: string })[]> {
	if (jobIds.length === 0) return [];
	const { results } = await db
		.prepare(
			`SELECT job_id, object_key, multipart_id, part_bytes, part_count, total_bytes, completed_at, aborted_at
			 FROM job_result_uploads
			 WHERE job_id IN (${placeholders(jobIds)}) AND completed_at IS NULL AND aborted_at IS NULL`,
		)
		.bind(...jobIds)
		.all<ResultUploadRow & { job_id: string }>();
	return results.map((row) => ({ ...toResultUpload(row), jobId: row.job_id }));
}
