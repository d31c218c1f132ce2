/** SQL of a job's plan and its windows (job_strips): each pass's results and how many are done. */
import { now, parseJson } from "./sql";

/**
 * Records the strip plan once and returns the plan that is stored: a redelivered validate
 * (even one that would plan differently) gets the first plan back, and its strips.
 */
export async function saveJobPlan<
	Plan extends { strips: readonly { index: number; rowStart: number; rowEnd: number }[] },
>(db: D1Database, jobId: string, plan: Plan): Promise<Plan> {
	const [, stored] = await db.batch<{ plan_json: string | null }>([
		db
			.prepare("UPDATE jobs SET plan_json = ?, updated_at = ? WHERE id = ? AND plan_json IS NULL")
			.bind(JSON.stringify(plan), now(), jobId),
		db.prepare("SELECT plan_json FROM jobs WHERE id = ?").bind(jobId),
	]);
	const storedPlan = parseJson<Plan>(stored?.results[0]?.plan_json);
	if (!storedPlan) throw new Error(`job ${jobId}: the plan was not stored`);
	const insertStrip = db.prepare(
		"INSERT OR IGNORE INTO job_strips (job_id, strip_index, row_start, row_end) VALUES (?, ?, ?, ?)",
	);
	// A plan of no windows (a zonal job whose fields all miss the raster) has no rows to add.
	if (storedPlan.strips.length > 0) {
		await db.batch(
			storedPlan.strips.map((strip) => insertStrip.bind(jobId, strip.index, strip.rowStart, strip.rowEnd)),
		);
	}
	return storedPlan;
}

export interface StripCompletion {
	remaining: number;
	total: number;
}

/**
 * Marks a strip done and counts what is left, in one transaction, so a redelivered strip
 * never counts twice and exactly the set of done rows decides completion.
 */
/**
 * How each pass over a job's windows records a window's result and its time, and counts the
 * windows done: compute's statistics, then the histogram stage's counts.
 */
const windowPasses = {
	compute: {
		record:
			"UPDATE job_strips SET stats_json = ?, done_at = ? WHERE job_id = ? AND strip_index = ? AND done_at IS NULL",
		count: "SELECT COUNT(done_at) AS done, COUNT(*) AS total FROM job_strips WHERE job_id = ?",
	},
	histogram: {
		record:
			"UPDATE job_strips SET histogram_json = ?, binned_at = ? WHERE job_id = ? AND strip_index = ? AND binned_at IS NULL",
		count: "SELECT COUNT(binned_at) AS done, COUNT(*) AS total FROM job_strips WHERE job_id = ?",
	},
} as const;

/**
 * Records a window's result of one pass, once (a redelivery changes nothing), and counts how
 * many windows that pass has done, in one transaction; moves the job's progress.
 */
async function completeWindowPass(
	db: D1Database,
	pass: keyof typeof windowPasses,
	jobId: string,
	stripIndex: number,
	value: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	const statements = windowPasses[pass];
	const [, counts] = await db.batch<{ done: number; total: number }>([
		db.prepare(statements.record).bind(JSON.stringify(value), now(), jobId, stripIndex),
		db.prepare(statements.count).bind(jobId),
	]);
	const row = counts?.results[0];
	if (!row) throw new Error(`job ${jobId} has no strip plan`);
	const at = now();
	await db
		.prepare(
			`UPDATE jobs SET progress = MAX(progress, ?), updated_at = ?, stage_heartbeat_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')`,
		)
		.bind(progressOf(row.done, row.total), at, at, jobId)
		.run();
	return { remaining: row.total - row.done, total: row.total };
}

/** Records a computed window's statistics (see completeWindowPass). */
export function completeStrip(
	db: D1Database,
	jobId: string,
	stripIndex: number,
	stats: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	return completeWindowPass(db, "compute", jobId, stripIndex, stats, progressOf);
}

/** Records a window's counts of the histogram's second pass (see completeWindowPass). */
export function completeStripHistogram(
	db: D1Database,
	jobId: string,
	stripIndex: number,
	histogram: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	return completeWindowPass(db, "histogram", jobId, stripIndex, histogram, progressOf);
}

export async function listStripStats<T, H = never>(
	db: D1Database,
	jobId: string,
): Promise<{ index: number; stats: T | null; histogram: H | null }[]> {
	const { results } = await db
		.prepare("SELECT strip_index, stats_json, histogram_json FROM job_strips WHERE job_id = ? ORDER BY strip_index")
		.bind(jobId)
		.all<{ strip_index: number; stats_json: string | null; histogram_json: string | null }>();
	return results.map((row) => ({
		index: row.strip_index,
		stats: parseJson<T>(row.stats_json),
		histogram: parseJson<H>(row.histogram_json),
	}));
}

export async function getStrip(
	db: D1Database,
	jobId: string,
	stripIndex: number,
): Promise<{ rowStart: number; rowEnd: number; done: boolean; binned: boolean } | null> {
	const row = await db
		.prepare("SELECT row_start, row_end, done_at, binned_at FROM job_strips WHERE job_id = ? AND strip_index = ?")
		.bind(jobId, stripIndex)
		.first<{ row_start: number; row_end: number; done_at: string | null; binned_at: string | null }>();
	return row
		? { rowStart: row.row_start, rowEnd: row.row_end, done: row.done_at !== null, binned: row.binned_at !== null }
		: null;
}
