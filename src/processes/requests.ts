/**
 * What POST /v1/jobs knows of each process: the fields only it takes and how a request of it
 * is checked and compiled at submission. Kept apart from the processes' pipeline side
 * (./registry.ts), which loads the Wasm kernels, so the contract can be built anywhere.
 */
import type { JobRequest } from "../db/jobs";
import { indexRequestFields, indexRequestIssues, prepareIndexJob } from "./index/request";

export interface ProcessRequest {
	/** Checks the request (a 422 ApiError when it cannot run) and compiles what the job stores. */
	prepare(request: JobRequest): { indexId: string | null; formula: unknown };
}

export const processRequests = {
	index: { prepare: prepareIndexJob },
} as const satisfies Record<string, ProcessRequest>;

export type ProcessName = keyof typeof processRequests;

export const processNames = Object.keys(processRequests) as [ProcessName, ...ProcessName[]];

/** The fields of every process, each optional: a request gives those of its own process. */
export const processRequestFields = { ...indexRequestFields };

/** Problems of a request's process fields that the fields alone cannot show. */
export function processRequestIssues(
	process: ProcessName,
	request: Parameters<typeof indexRequestIssues>[0],
): { path: string[]; message: string }[] {
	switch (process) {
		case "index":
			return indexRequestIssues(request);
	}
}
