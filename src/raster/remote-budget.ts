/**
 * REMOTE_MAX_BYTES_PER_JOB as a limit on the job: every ranged read of a remote input, in every
 * invocation of validate and compute, is taken from one count in D1. To keep D1 writes few, an
 * invocation reserves in grants of up to GRANT_BYTES and gives back what it did not read when it
 * settles; near the limit it reserves exactly what a read needs. An invocation that dies before
 * settling leaves its grant counted: the count can only err towards reading less.
 */
import { releaseRemoteBytes, reserveRemoteBytes } from "../db/remote-bytes";
import type { RemoteByteBudget } from "./remote";

const GRANT_BYTES = 4 * 1024 * 1024;

export interface SettledBudget extends RemoteByteBudget {
	/** Gives back what was reserved and not read; call once the invocation's reads are over. */
	settle(): Promise<void>;
}

export function jobRemoteBudget(env: Env, jobId: string): SettledBudget {
	const limit = env.REMOTE_MAX_BYTES_PER_JOB;
	let granted = 0;
	let used = 0;
	const reserve = async (bytes: number) => {
		if (!(await reserveRemoteBytes(env.DB, jobId, bytes, limit))) return false;
		granted += bytes;
		return true;
	};
	const takeNow = async (length: number) => {
		const missing = used + length - granted;
		if (missing > 0) {
			const grant = Math.max(missing, Math.min(GRANT_BYTES, limit));
			if (!(await reserve(grant)) && (grant === missing || !(await reserve(missing)))) return false;
		}
		used += length;
		return true;
	};
	// Reads run in parallel; their takes run in turn, so each sees the grants before it.
	let turn: Promise<unknown> = Promise.resolve();
	return {
		limit,
		take(length) {
			const taken = turn.then(() => takeNow(length));
			turn = taken.catch(() => undefined);
			return taken;
		},
		async settle() {
			const unused = granted - used;
			granted = used;
			if (unused > 0) await releaseRemoteBytes(env.DB, jobId, unused);
		},
	};
}
