/**
 * The zonal_statistics process: per field (and per date of a time series), the statistics of a
 * catalog index or an expression over the pixels the field covers, weighed by how much of each
 * pixel lies inside it. Its stages: ingest and validate, compute (weigh the fields window by
 * window) and publish (zones.geojson, zones.csv, zones.parquet; a large job in steps). No
 * result.tif is written.
 */
import type { Process } from "../../pipeline/stage";
import { computeZonalWindow } from "./compute";
import { planZonalJob } from "./plan";
import { publishZonal, zonalPublishSteps } from "./publish";

export const zonalProcess: Process = {
	name: "zonal_statistics",
	stages: () => ["ingest", "validate", "compute", "publish"],
	plan: planZonalJob,
	computeWindow: computeZonalWindow,
	publishSteps: zonalPublishSteps,
	publish: publishZonal,
};
