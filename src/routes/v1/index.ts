/** The v1 operations, one file each; this list is all the routing there is. */
import type { App } from "../../context";
import { registerDocs } from "./docs";
import { registerCreateFieldSet } from "./fields.create";
import { registerDeleteFieldSet } from "./fields.delete";
import { registerGetFieldSet } from "./fields.get";
import { registerListFieldSets } from "./fields.list";
import { registerHealth } from "./health";
import { registerGetIndex } from "./indices.get";
import { registerListIndices } from "./indices.list";
import { registerGetJobArtifact } from "./jobs.artifact";
import { registerCancelJob } from "./jobs.cancel";
import { registerCreateJob } from "./jobs.create";
import { registerListJobEvents } from "./jobs.events";
import { registerGetJob } from "./jobs.get";
import { registerListJobs } from "./jobs.list";
import { registerListJobLogs } from "./jobs.logs";
import { registerGetJobTrace } from "./jobs.trace";
import { registerAbortUpload } from "./uploads.abort";
import { registerCompleteUpload } from "./uploads.complete";
import { registerCreateUpload } from "./uploads.create";
import { registerDeleteUpload } from "./uploads.delete";
import { registerGetUpload } from "./uploads.get";
import { registerUploadPart } from "./uploads.parts.put";

export function registerV1Routes(app: App, version: string): void {
	registerCreateUpload(app);
	registerGetUpload(app);
	registerDeleteUpload(app);
	registerUploadPart(app);
	registerCompleteUpload(app);
	registerAbortUpload(app);
	registerCreateJob(app);
	registerListJobs(app);
	registerGetJob(app);
	registerCancelJob(app);
	registerListJobEvents(app);
	registerListJobLogs(app);
	registerGetJobTrace(app, version);
	registerGetJobArtifact(app);
	registerCreateFieldSet(app);
	registerListFieldSets(app);
	registerGetFieldSet(app);
	registerDeleteFieldSet(app);
	registerListIndices(app);
	registerGetIndex(app);
	registerHealth(app, version);
	registerDocs(app);
}
