/**
 * A job's log row written after the change it tells of has landed (a cancel, a sweep, a
 * submission): failing to write it is logged, never thrown, so the change is not reported as
 * failed, nor a sweep's batch stopped, for want of its log row.
 */
import { insertJobLog, type NewJobLog } from "../db/job-logs";
import { describeError, log } from "./log";

export async function recordJobLog(db: D1Database, row: NewJobLog): Promise<void> {
	try {
		await insertJobLog(db, row);
	} catch (error) {
		log.warn("job_log_not_recorded", { trace_id: row.traceId, job_id: row.jobId, ...describeError(error) });
	}
}
