/** SQL of a job's timeline events. */
import { now, parseJson } from "./sql";

export interface EventRecord {
	stage: string;
	status: string;
	at: string;
	durationMs: number | null;
	attempt: number;
	traceId: string;
	detail: Record<string, unknown> | null;
}

export interface NewEvent {
	jobId: string;
	stage: string;
	status: "started" | "succeeded" | "failed" | "retrying" | "dead_lettered";
	attempt: number;
	traceId: string;
	durationMs?: number | undefined;
	detail?: Record<string, unknown> | undefined;
}

/** The insert of one event, for a caller that writes it in a batch with others. */
export function eventStatement(db: D1Database, event: NewEvent): D1PreparedStatement {
	return db
		.prepare(
			`INSERT INTO job_events (job_id, stage, status, at, duration_ms, attempt, trace_id, detail_json)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			event.jobId,
			event.stage,
			event.status,
			now(),
			event.durationMs ?? null,
			event.attempt,
			event.traceId,
			event.detail ? JSON.stringify(event.detail) : null,
		);
}

export async function listEvents(db: D1Database, tenantId: string, jobId: string): Promise<EventRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT e.stage, e.status, e.at, e.duration_ms, e.attempt, e.trace_id, e.detail_json
			 FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.job_id = ? AND j.tenant_id = ? ORDER BY e.id`,
		)
		.bind(jobId, tenantId)
		.all<{
			stage: string;
			status: string;
			at: string;
			duration_ms: number | null;
			attempt: number;
			trace_id: string;
			detail_json: string | null;
		}>();
	return results.map((row) => ({
		stage: row.stage,
		status: row.status,
		at: row.at,
		durationMs: row.duration_ms,
		attempt: row.attempt,
		traceId: row.trace_id,
		detail: parseJson<Record<string, unknown>>(row.detail_json),
	}));
}
