/**
 * The index process: a catalog index or a custom expression evaluated over the inputs, giving
 * result.tif (a Cloud-Optimized GeoTIFF), stats.json and preview.png. Its stages: ingest and
 * validate, compute (evaluate each window), histogram (bin each window's values again over the
 * job's own edges and encode its tiles, unless the request fixed the edges and compute binned and
 * encoded already), store (assemble result.tif) and publish.
 */
import { jobFormula } from "../../indices/formula";
import type { Process } from "../../pipeline/stage";
import { computeIndexWindow } from "./compute";
import { binIndexWindow } from "./histogram";
import { planIndexJob } from "./plan";
import { publishIndex } from "./publish";
import { fixedHistogram } from "./statistics";

export const indexProcess: Process = {
	name: "index",
	stages: (request) => [
		"ingest",
		"validate",
		"compute",
		...(fixedHistogram(request) ? [] : ["histogram"]),
		"store",
		"publish",
	],
	plan: planIndexJob,
	computeWindow: computeIndexWindow,
	revisitWindow: (context, _plan, window, partials) => binIndexWindow(context, window, partials),
	resultRaster(job) {
		const formula = jobFormula(job);
		return { description: formula?.index ?? formula?.expression, output: job.request.output };
	},
	publish: publishIndex,
};
