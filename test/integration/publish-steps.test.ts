/**
 * A zonal job large enough to publish in steps, driven delivery by delivery: each step is a
 * delivery of its own that sends the next, and a step delivered twice (the queue's at-least-once
 * delivery) writes the same objects again and forks the chain without changing what is published.
 */
import { env } from "cloudflare:workers";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { boxPolygon } from "../../src/bounds";
import { listArtifacts } from "../../src/db/artifacts";
import { admitJob, getJob } from "../../src/db/jobs";
import { newJobId } from "../../src/ids";
import { pipelineStages } from "../../src/pipeline/stages";
import { storedInputs } from "../../src/processes/inputs";
import { FIELD_DATES_IN_ONE_INVOCATION } from "../../src/processes/zonal/publish";
import { prepareZonalJob } from "../../src/processes/zonal/request";
import { writeFieldCollection } from "../../src/storage/field-collections";
import { objectKeys } from "../../src/storage/keys";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, json, upload } from "../helpers";
import { deliver, deliverSent, recordingEnv } from "../pipeline-driver";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "5b0c7e1d9a3f4b6c8d2e0f1a3b5c7d9e";

/** `count` squares of a few pixels on a grid inside the sample bands (16.337-16.370 E, 47.823-47.845 N). */
function squares(count: number) {
	const across = Math.ceil(Math.sqrt(count));
	const [dx, dy] = [0.031 / across, 0.021 / across];
	return {
		type: "FeatureCollection",
		features: Array.from({ length: count }, (_, i) => {
			const [west, south] = [16.3375 + (i % across) * dx, 47.8235 + Math.floor(i / across) * dy];
			return {
				type: "Feature",
				id: `square-${i}`,
				properties: { farm: i % 7 },
				geometry: boxPolygon([west, south, west + 0.5 * dx, south + 0.5 * dy]),
			};
		}),
	};
}

/**
 * Records a zonal NDVI job over the sample bands and `count` fields, as POST /v1/jobs does, with
 * no message sent; with `dates`, a series of that many dates, each of the same bands.
 */
async function insertZonalJob(count: number, dates?: number): Promise<string> {
	const red = await upload(red256);
	const nir = await upload(nir256);
	const id = newJobId();
	const objectKey = objectKeys.jobZones(id);
	await writeFieldCollection(env.BUCKET, objectKey, JSON.stringify(squares(count)));
	const inputs = {
		red: { upload_id: red.id, band: 1, scale: 1, offset: 0 },
		nir: { upload_id: nir.id, band: 1, scale: 1, offset: 0 },
	};
	const series = dates
		? Array.from({ length: dates }, (_, d) => ({
				datetime: new Date(Date.UTC(2026, 4, 1 + 5 * d, 10, 20)).toISOString(),
				inputs,
			}))
		: undefined;
	const request = {
		process: "zonal_statistics" as const,
		index: "ndvi",
		// As POST /v1/jobs stores a series' inputs: each date's under names of their own.
		...storedInputs(inputs, series),
		zones: { object_key: objectKey },
	};
	const { indexId, formula } = prepareZonalJob(request);
	const admission = await admitJob(
		env.DB,
		{
			id,
			tenantId: TEST_TENANT_ID,
			process: "zonal_statistics",
			indexId,
			formula,
			request,
			traceId: TRACE_ID,
			spans: null,
		},
		Number.MAX_SAFE_INTEGER,
		null,
	);
	if (!("job" in admission)) throw new Error(`the job was not recorded (${admission.refused})`);
	return id;
}

/** A new zonal job (see insertZonalJob) delivered through ingest, validate and compute, its publish message sent. */
async function zonalJobAtPublish(
	testEnv: Env,
	sent: ReturnType<typeof recordingEnv>["sent"],
	...job: Parameters<typeof insertZonalJob>
) {
	const jobId = await insertZonalJob(...job);
	const message = { job_id: jobId, trace_id: TRACE_ID };
	await deliver(pipelineStages.ingest.queue, message, testEnv);
	await deliver(pipelineStages.validate.queue, message, testEnv);
	await deliverSent("compute", sent, testEnv);
	return { jobId, message };
}

describe("publish in steps", () => {
	it("runs a step a delivery, and a step delivered twice changes nothing that is published", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await zonalJobAtPublish(testEnv, sent, FIELD_DATES_IN_ONE_INVOCATION + 1);
		expect(sent.publish).toEqual([message]);

		// The statistics step, then zones.csv's, which is delivered again before the next step runs.
		await deliver(pipelineStages.publish.queue, message, testEnv);
		expect(sent.publish.slice(1)).toEqual([{ ...message, step: 1 }]);
		const table = await env.BUCKET.get(objectKeys.zonalStatistics(jobId));
		expect(table?.size).toBeGreaterThan(0);
		await deliver(pipelineStages.publish.queue, { ...message, step: 1 }, testEnv);
		const csv = await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.csv")))?.text();
		await deliver(pipelineStages.publish.queue, { ...message, step: 1 }, testEnv);
		expect(await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.csv")))?.text()).toBe(csv);
		expect(sent.publish.slice(2)).toEqual([
			{ ...message, step: 2 },
			{ ...message, step: 2 },
		]);
		expect((await getJob(env.DB, jobId))?.status).toBe("running");

		// Both chains run on; whichever final step comes second finds the job succeeded and is let go.
		const { deliveries } = await deliverSent("publish", sent, testEnv, { from: 2 });
		expect(deliveries.map(({ body }) => body.step)).toEqual([2, 2, 3, 3, 4, 4]);
		for (const { delivery } of deliveries) expect(delivery.result.explicitAcks).toEqual([delivery.id]);
		const job = await getJob(env.DB, jobId);
		expect(job?.status).toBe("succeeded");
		const artifacts = await listArtifacts(env.DB, TEST_TENANT_ID, jobId);
		expect(artifacts.map((artifact) => artifact.name).sort()).toEqual(
			["item.json", "zones.csv", "zones.geojson", "zones.parquet"].sort(),
		);
		expect(await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.csv")))?.text()).toBe(csv);
		const rows = (csv ?? "").trimEnd().split("\r\n");
		expect(rows).toHaveLength(FIELD_DATES_IN_ONE_INVOCATION + 2);
		expect(rows.filter((row) => /^square-\d+,,[1-9]/.test(row)).length).toBe(FIELD_DATES_IN_ONE_INVOCATION + 1);
		const work = await env.BUCKET.list({ prefix: objectKeys.workPrefix(jobId) });
		expect(work.objects).toEqual([]);

		// Each step is a span of its own in the job's trace, named as its log lines name it.
		const trace = await json<{
			resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
		}>(await api(`/v1/jobs/${jobId}/trace`));
		const names = trace.resourceSpans.flatMap((r) =>
			r.scopeSpans.flatMap((scope) => scope.spans.map((span) => span.name)),
		);
		for (const name of ["publish", "publish step 1", "publish step 2", "publish step 3", "publish step 4"]) {
			expect(names, name).toContain(name);
		}
	});

	it("a cancel landing during a step wins: the step sends no next one, and what it wrote is removed", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await zonalJobAtPublish(testEnv, sent, FIELD_DATES_IN_ONE_INVOCATION + 1);
		await deliver(pipelineStages.publish.queue, message, testEnv);

		// The dispatcher has found the job running; the cancel lands as the step writes zones.csv.
		let canceled = 0;
		const bucket = new Proxy(env.BUCKET, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (property !== "put") return typeof value === "function" ? value.bind(target) : value;
				return async (key: string, ...rest: unknown[]) => {
					if (key === objectKeys.artifact(jobId, "zones.csv")) {
						canceled = (await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status;
					}
					return value.call(target, key, ...rest);
				};
			},
		});
		const step = await deliver(pipelineStages.publish.queue, { ...message, step: 1 }, { ...testEnv, BUCKET: bucket });
		expect(canceled).toBe(200);
		expect(step.result.explicitAcks).toEqual([step.id]);
		expect(sent.publish.slice(2)).toEqual([]);
		expect((await getJob(env.DB, jobId))?.status).toBe("canceled");
		const left = await env.BUCKET.list({ prefix: objectKeys.jobPrefix(jobId) });
		expect(left.objects.map((object) => object.key)).toEqual([]);
	});

	it("writes a job of more field-dates than one part's in parts, joined into each artifact", async () => {
		const { testEnv, sent } = recordingEnv();
		// Two dates of 5001 fields: two ranges of fields, so each artifact is two parts (and a footer).
		const fields = 5001;
		const { jobId } = await zonalJobAtPublish(testEnv, sent, fields, 2);
		const { deliveries } = await deliverSent("publish", sent, testEnv);
		expect(deliveries).toHaveLength(5);
		expect((await getJob(env.DB, jobId))?.status).toBe("succeeded");

		const ids = Array.from({ length: fields }, (_, i) => `square-${i}`);
		const csv = (await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.csv")))?.text()) ?? "";
		const [header, ...rows] = csv.trimEnd().split("\r\n");
		expect(header).toBe("id,datetime,count,nodata_count,masked_count,valid_fraction,mean,std,min,max,sum,p2,p50,p98");
		expect(rows.map((row) => row.split(",")[0])).toEqual(ids.flatMap((id) => [id, id]));
		const geojson = JSON.parse(
			(await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.geojson")))?.text()) ?? "",
		);
		expect(geojson.features.map((feature: { id: string }) => feature.id)).toEqual(ids);
		for (const feature of geojson.features) {
			// Both dates are the same bands: the same statistics, and some pixels of each square counted.
			const [first, second] = feature.properties.series;
			expect(second).toEqual({ ...first, datetime: second.datetime });
			expect(first.count).toBeGreaterThan(0);
		}
		const parquet = await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.parquet")))?.arrayBuffer();
		const records = await parquetReadObjects({ file: parquet as ArrayBuffer });
		expect(records.map((record) => record.id)).toEqual(ids);
		// Row groups of at most 1024 fields within each part: the parts are fields 0-4999 and 5000.
		expect(parquetMetadata(parquet as ArrayBuffer).row_groups.map((group) => Number(group.num_rows))).toEqual([
			1024, 1024, 1024, 1024, 904, 1,
		]);
		expect(records.map((record) => record.mean)).toEqual(
			geojson.features.map((feature: { properties: { series: { mean: number }[] } }) =>
				feature.properties.series.map((entry) => entry.mean),
			),
		);
		const item = JSON.parse((await (await env.BUCKET.get(objectKeys.artifact(jobId, "item.json")))?.text()) ?? "");
		expect(item.assets["zones.csv"]["file:size"]).toBe(new TextEncoder().encode(csv).byteLength);
		const work = await env.BUCKET.list({ prefix: objectKeys.workPrefix(jobId) });
		expect(work.objects).toEqual([]);
	});

	it("a step past a job's last (a deploy gave it fewer) publishes the job", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await zonalJobAtPublish(testEnv, sent, 12);
		await deliver(pipelineStages.publish.queue, { ...message, step: 2 }, testEnv);
		expect(sent.publish).toEqual([message]);
		expect((await getJob(env.DB, jobId))?.status).toBe("succeeded");
		const csv = await (await env.BUCKET.get(objectKeys.artifact(jobId, "zones.csv")))?.text();
		expect(csv?.trimEnd().split("\r\n")).toHaveLength(13);
	});

	it("a step whose table is gone is retried, not published from nothing", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await zonalJobAtPublish(testEnv, sent, FIELD_DATES_IN_ONE_INVOCATION + 1);
		await deliver(pipelineStages.publish.queue, message, testEnv);
		await env.BUCKET.delete(objectKeys.zonalStatistics(jobId));
		const step = await deliver(pipelineStages.publish.queue, { ...message, step: 1 }, testEnv);
		expect(step.result.retryMessages).toHaveLength(1);
		expect(sent.publish.slice(1)).toEqual([{ ...message, step: 1 }]);
		expect(await env.BUCKET.head(objectKeys.artifact(jobId, "zones.csv"))).toBeNull();
		expect((await getJob(env.DB, jobId))?.status).toBe("running");
	});
});
