/**
 * What POST /v1/jobs knows of each process: the fields only it takes and how a request of it
 * is checked and compiled at submission. Kept apart from the processes' pipeline side
 * (./registry.ts), which loads the Wasm kernels, so the contract can be built anywhere.
 */
import type { JobRequest } from "../db/jobs";
import { indexRequestFields, indexRequestIssues, prepareIndexJob } from "./index/request";
import { prepareZonalJob, zonalFieldsGiven, zonalRequestFields, zonalRequestIssues } from "./zonal/request";

export interface ProcessRequest {
	/** Checks the request (a 422 ApiError when it cannot run) and compiles what the job stores. */
	prepare(request: JobRequest): { indexId: string | null; formula: unknown };
}

export const processRequests = {
	index: { prepare: prepareIndexJob },
	zonal_statistics: { prepare: prepareZonalJob },
} as const satisfies Record<string, ProcessRequest>;

export type ProcessName = keyof typeof processRequests;

export const processNames = Object.keys(processRequests) as [ProcessName, ...ProcessName[]];

/** The fields of every process, each optional: a request gives those of its own process. */
export const processRequestFields = { ...indexRequestFields, ...zonalRequestFields };

type RequestFields = Parameters<typeof zonalRequestIssues>[0];

/** Problems of a request's process fields that the fields alone cannot show. */
export function processRequestIssues(
	process: ProcessName,
	request: RequestFields,
): { path: (string | number)[]; message: string }[] {
	switch (process) {
		case "index":
			if (!request.inputs)
				return [{ path: ["inputs"], message: "give the inputs, or a stac_item" }, ...zonalFieldsGiven(request)];
			return [...indexRequestIssues({ ...request, inputs: request.inputs }), ...zonalFieldsGiven(request)];
		case "zonal_statistics":
			return zonalRequestIssues(request);
	}
}
