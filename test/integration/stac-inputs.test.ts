/**
 * Inputs from STAC: items (STAC 1.0 with eo:bands/raster:bands, 1.1 with bands) shaped like
 * Earth Search's sentinel-2-l2a items (test/fixtures/stac/, served at https://cogs.test/files/stac/)
 * and an item search (https://stac.test, test/node/remote-cogs.ts). Each job runs through every
 * queue; what it computes is checked against the same job given by href, and the series against
 * manifest-t2's zonal_series_scl.
 */
import { env } from "cloudflare:workers";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import { getJob } from "../../src/db/jobs";
import { pipelineStages, stageNames } from "../../src/pipeline/stages";
import type { FeatureStatistics } from "../../src/processes/zonal/weighted-statistics";
import wranglerToml from "../../wrangler.toml?raw";
import fieldsGeojson from "../fixtures/t2/fields.geojson?raw";
import manifest from "../fixtures/t2/manifest-t2.json";
import { api, apiWith, expectProblem, heldQueue, json, submitJob, waitForJob } from "../helpers";
import { deliver, recordingEnv } from "../pipeline-driver";

const COGS = "https://cogs.test/files";
const ITEM_V10 = `${COGS}/stac/s2-l2a-v1.0.json`;
const ITEM_V11 = `${COGS}/stac/s2-l2a-v1.1.json`;
const SERIES = (name: string) => `${COGS}/stac/series-${name}.json`;
const SCL_MASK = { input: "scl", preset: "sentinel-2-scl" };

type Statistics = FeatureStatistics & { datetime?: string | null };
const expectedSeries = (
	manifest.zonal_cases as unknown as Record<string, { expected_series: Record<string, Statistics[]> }>
).zonal_series_scl?.expected_series as Record<string, Statistics[]>;

async function run(body: Record<string, unknown>): Promise<Job> {
	const response = await submitJob(body);
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

/** Reads a series of three remote dates of t2 takes: more than the tests' REMOTE_MAX_BYTES_PER_JOB. */
const SERIES_BYTES = 8 * 1024 * 1024;

/**
 * Submits the job and runs it stage by stage under SERIES_BYTES, redelivering a message its
 * stage retries; the job as GET /v1/jobs/{id} shows it, and how many deliveries were retried.
 */
async function runStaged(body: Record<string, unknown>): Promise<{ job: Job; retries: number }> {
	const response = await apiWith({ INGEST_QUEUE: heldQueue }, "/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify(body),
	});
	expect(response.status, await response.clone().text()).toBe(202);
	const { id } = await json<{ id: string }>(response);
	const queued = await getJob(env.DB, id);
	const { testEnv, sent } = recordingEnv({ REMOTE_MAX_BYTES_PER_JOB: SERIES_BYTES });
	sent.ingest.push({ job_id: id, trace_id: queued?.traceId });
	let retries = 0;
	for (const stage of stageNames) {
		// Each delivery may send more messages to its own stage (compute's windows), read as they come.
		for (const message of sent[stage]) {
			for (let attempts = 1; attempts <= 4; attempts++) {
				const { retryOptions } = await deliver(pipelineStages[stage].queue, message, testEnv, attempts);
				if (retryOptions.length === 0) break;
				retries++;
			}
		}
	}
	return { job: await json<Job>(await api(`/v1/jobs/${id}`)), retries };
}

async function stats(job: Job): Promise<Record<string, unknown>> {
	expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
	return json(await api(`/v1/jobs/${job.id}/artifacts/stats.json`));
}

async function eventsOf(jobId: string): Promise<string[]> {
	const { events } = await json<{ events: { stage: string; status: string }[] }>(await api(`/v1/jobs/${jobId}/events`));
	return events.map((event) => `${event.stage}:${event.status}`);
}

/** The statistics a job's result has, without what names the job. */
function measures(statistics: Record<string, unknown>): Record<string, unknown> {
	const { count, nodata_count, min, max, mean, std, percentiles } = statistics;
	return { count, nodata_count, min, max, mean, std, percentiles };
}

async function fieldSetId(): Promise<string> {
	const response = await api("/v1/fields", {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: fieldsGeojson,
	});
	expect(response.status).toBe(201);
	return (await json<{ id: string }>(response)).id;
}

/**
 * Each field's series equal to zonal_series_scl's (its dates at `dates`), within 1e-6 relative
 * and percentiles exact, as test/integration/zonal.test.ts holds them.
 */
function expectSeries(
	geojson: { features: { id: string; properties: { series?: Statistics[] } }[] },
	dates = [0, 1, 2],
): void {
	for (const feature of geojson.features) {
		const want = dates.map((d) => expectedSeries[feature.id]?.[d] as Statistics);
		const series = feature.properties.series ?? [];
		expect(series.map((entry) => entry.datetime)).toEqual(want.map((entry) => entry.datetime));
		series.forEach((entry, i) => {
			const expected = want[i] as Statistics;
			for (const key of ["count", "nodata_count", "masked_count", "mean", "std", "min", "max", "sum"] as const) {
				const w = expected[key];
				if (w === null) expect(entry[key], `${feature.id} ${i} ${key}`).toBeNull();
				else
					expect(Math.abs((entry[key] as number) - w), `${feature.id} ${i} ${key}`).toBeLessThanOrEqual(
						Math.max(1e-9, 1e-6 * Math.abs(w)),
					);
			}
			for (const [key, w] of Object.entries(expected.percentiles)) {
				expect(entry.percentiles[key], `${feature.id} ${i} ${key}`).toBe(w === null ? null : Math.fround(w));
			}
		});
	}
}

/** A zonal job of the NDVI series of the items a search at `url` finds, over the t2 fields. */
async function searchRequest(url: string): Promise<Record<string, unknown>> {
	return {
		process: "zonal_statistics",
		index: "ndvi",
		zones: { field_set_id: await fieldSetId() },
		stac_search: { url, collections: ["sentinel-2-l2a"] },
	};
}

/** The search's SCL-masked series, run stage by stage. */
async function searchSeries(url: string): Promise<{ job: Job; retries: number }> {
	return runStaged({ ...(await searchRequest(url)), mask: SCL_MASK });
}

describe("STAC items as inputs", () => {
	it("resolve a job's bands by common name from a STAC 1.0 item, with its scale, offset and nodata, never its s3 JPEG 2000", async () => {
		const fromItem = await run({ index: "ndvi", stac_item: ITEM_V10 });
		const sampling = { scale: 0.0001, offset: -0.1, nodata: 0 };
		const byHref = await run({
			index: "ndvi",
			inputs: {
				red: { href: `${COGS}/s2_red_256.tif`, ...sampling },
				nir: { href: `${COGS}/s2_nir_256.tif`, ...sampling },
			},
		});
		expect(measures(await stats(fromItem))).toEqual(measures(await stats(byHref)));
		expect(fromItem.inputs.red).toEqual({
			href: `${COGS}/s2_red_256.tif`,
			band: 1,
			...sampling,
			stac: { item: ITEM_V10, asset: "red" },
			sources: { band: "item", scale: "item", offset: "item", nodata: "item" },
		});
		expect(fromItem.inputs.nir?.stac).toEqual({ item: ITEM_V10, asset: "nir" });
		// A scene from one item is dated by it.
		expect((await getJob(env.DB, fromItem.id))?.request.datetime).toBe("2024-06-12T10:06:21.024000Z");
	});

	it("read a STAC 1.1 item's bands, resolve relative hrefs against the item, and let the request's values win", async () => {
		const job = await run({
			index: "ndvi",
			inputs: { red: { stac_item: ITEM_V11, asset: "red", scale: 1, offset: 0 }, nir: { stac_item: ITEM_V11 } },
		});
		const byHref = await run({
			index: "ndvi",
			inputs: {
				red: { href: `${COGS}/s2_red_256.tif`, scale: 1, offset: 0, nodata: 0 },
				nir: { href: `${COGS}/s2_nir_256.tif`, scale: 0.0001, offset: -0.1, nodata: 0 },
			},
		});
		expect(measures(await stats(job))).toEqual(measures(await stats(byHref)));
		expect(job.inputs.red).toMatchObject({
			href: `${COGS}/s2_red_256.tif`,
			scale: 1,
			offset: 0,
			nodata: 0,
			sources: { scale: "request", offset: "request", nodata: "item" },
		});
		expect(job.inputs.nir).toMatchObject({ scale: 0.0001, offset: -0.1, sources: { scale: "item", offset: "item" } });
	});

	it("match a single band's common name, scale, offset and nodata given on the asset itself (STAC 1.1)", async () => {
		const item = "https://stac.test/item/asset-level-band";
		const job = await run({ index: "ndvi", stac_item: item });
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const fromItem = { band: "item", scale: "item", offset: "item", nodata: "item" };
		expect(job.inputs.red).toEqual({
			href: `${COGS}/s2_red_256.tif`,
			band: 1,
			scale: 0.0001,
			offset: -0.1,
			nodata: 0,
			stac: { item, asset: "B04" },
			sources: fromItem,
		});
		expect(job.inputs.nir).toMatchObject({ stac: { item, asset: "B08" }, sources: fromItem });
	});

	it("make a series of dates given as items, each dated by its item, with an extra asset for the mask", async () => {
		const { job } = await runStaged({
			process: "zonal_statistics",
			index: "ndvi",
			zones: { field_set_id: await fieldSetId() },
			dates: ["d1", "d2-west", "d3"].map((name) => ({
				stac_item: SERIES(name),
				inputs: { scl: { asset: "scl" } },
				mask: SCL_MASK,
			})),
		});
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		// d2-west's footprint is half the raster, but a date of one item weighs every field on it.
		expectSeries(await json(await api(`/v1/jobs/${job.id}/artifacts/zones.geojson`)));
		expect(job.dates?.map((date) => date.inputs.scl?.stac?.asset)).toEqual(["scl", "scl", "scl"]);
	});

	it("search a STAC API across pages into an SCL-masked per-field series", async () => {
		const { job } = await runStaged({
			process: "zonal_statistics",
			index: "ndvi",
			zones: { field_set_id: await fieldSetId() },
			stac_search: {
				url: "https://stac.test/api",
				collections: ["sentinel-2-l2a"],
				datetime: "2026-05-01T00:00:00Z/2026-06-30T23:59:59Z",
				query: { "eo:cloud_cover": { lt: 40 } },
				limit: 2,
			},
			mask: SCL_MASK,
		});
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		expectSeries(await json(await api(`/v1/jobs/${job.id}/artifacts/zones.geojson`)));
		expect(job.dates?.map((date) => date.inputs.red?.stac?.item)).toEqual(["d1", "d2", "d3"].map(SERIES));
		expect(job.dates?.map((date) => date.datetime)).toEqual(expectedSeries["wheat-1"]?.map((entry) => entry.datetime));
	});

	it("make one date of an acquisition's neighbouring tiles, each field weighed on the tile that covers it", async () => {
		const { job } = await searchSeries("https://stac.test/tiles");
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		// Both tiles read the same scene, so every field has that date's statistics, once.
		expectSeries(await json(await api(`/v1/jobs/${job.id}/artifacts/zones.geojson`)), [1]);
		// Both items are listed in the job.
		expect(job.dates?.map((date) => date.inputs.red?.stac?.item)).toEqual(["d2-west", "d2-east"].map(SERIES));
		const csv = await (await api(`/v1/jobs/${job.id}/artifacts/zones.csv`)).text();
		expect(csv.trimEnd().split("\r\n")).toHaveLength(1 + Object.keys(expectedSeries).length);
	});

	it("keep every tile of an acquisition whose items have no self link, however they share a page", async () => {
		const { job } = await searchSeries("https://stac.test/tiles-one-page");
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		// Both tiles are dates of the acquisition, each weighing the fields it covers.
		expect(job.dates?.map((date) => date.inputs.red?.href)).toEqual([`${COGS}/t2/red_d2.tif`, `${COGS}/t2/red_d2.tif`]);
		expectSeries(await json(await api(`/v1/jobs/${job.id}/artifacts/zones.geojson`)), [1]);
	});

	it("follow a next link relative to the page it is on", async () => {
		const { job } = await searchSeries("https://stac.test/v1/relative");
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		expectSeries(await json(await api(`/v1/jobs/${job.id}/artifacts/zones.geojson`)));
	});

	it("refuse a search page whose links do not parse with a problem, not an internal error", async () => {
		const job = await run(await searchRequest("https://stac.test/bad-links"));
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/invalid-stac");
		expect(job.error?.errors?.map((error) => error.path)).toEqual(["stac_search"]);
		expect(job.error?.detail).toContain("cannot be followed");
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});

	it("end a job whose search finds nothing with a problem, not an empty success", async () => {
		const job = await run(await searchRequest("https://stac.test/empty"));
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("ingest");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/stac-no-items");
		expect(job.error?.errors?.map((error) => error.path)).toEqual(["stac_search"]);
	});

	it("retry a catalog that answers 503, and succeed once it recovers", async () => {
		const { job, retries } = await searchSeries(`https://stac.test/flaky/${crypto.randomUUID()}`);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		expect(retries).toBe(1);
		expect((await eventsOf(job.id)).filter((event) => event === "ingest:retrying")).toHaveLength(1);
	});
});

describe("STAC sources that are refused", () => {
	it.each([
		["plain http", { stac_item: "http://cogs.test/files/stac/s2-l2a-v1.0.json" }, "stac_item"],
		["a URL that does not parse", { stac_item: "https://[not a host/item.json" }, "stac_item"],
		[
			"an href that does not parse",
			{ inputs: { red: { href: "https://[not a host/red.tif" }, nir: { href: `${COGS}/s2_nir_256.tif` } } },
			"inputs.red.href",
		],
		["a private host", { stac_item: "https://10.0.0.1/item.json" }, "stac_item"],
		["credentials", { stac_item: "https://user:secret@cogs.test/files/stac/s2-l2a-v1.0.json" }, "stac_item"],
		[
			"a loopback host without ALLOW_LOOPBACK_URLS",
			{ stac_item: "http://127.0.0.1:8000/stac/s2-l2a-v1.0.json" },
			"stac_item",
		],
		[
			"the metadata address",
			{ inputs: { red: { stac_item: "https://169.254.169.254/item" }, nir: { href: `${COGS}/s2_nir_256.tif` } } },
			"inputs.red.stac_item",
		],
		[
			"a host outside the job's allowlist",
			{ stac_item: ITEM_V10, remote: { allowed_hosts: ["mirror.cogs.test"] } },
			"stac_item",
		],
	])("at submission: %s", async (_, fields, path) => {
		const problem = await expectProblem(await submitJob({ index: "ndvi", ...fields }), 422, "validation-failed");
		expect(problem.errors?.map((error) => error.path)).toContain(path);
	});

	it("at submission: an asset with no item to take it from, and a search on an index job", async () => {
		const orphan = await expectProblem(
			await submitJob({ index: "ndvi", inputs: { red: { asset: "red" }, nir: { asset: "nir" } } }),
			422,
			"validation-failed",
		);
		expect(orphan.errors?.map((error) => error.path)).toEqual(["inputs.red.asset", "inputs.nir.asset"]);
		const search = await expectProblem(
			await submitJob({ index: "ndvi", stac_search: { url: "https://stac.test/api" } }),
			422,
			"validation-failed",
		);
		expect(search.errors?.map((error) => error.path)).toContain("stac_search");
	});

	it.each([
		[
			"a document larger than 1 MiB",
			{ stac_item: "https://stac.test/oversized" },
			"input-unavailable",
			"stac_item",
			"more than 1048576 bytes",
		],
		[
			"a redirect to a private host",
			{ stac_item: `https://cogs.test/redirect?to=${encodeURIComponent("https://192.168.1.1/item.json")}` },
			"input-unavailable",
			"stac_item",
			"redirect to",
		],
		[
			"an item that is not found",
			{ stac_item: `${COGS}/stac/missing.json` },
			"input-unavailable",
			"stac_item",
			"not found",
		],
		[
			"a body that is not JSON",
			{ stac_item: `${COGS}/t2/red_d1.tif` },
			"input-unavailable",
			"stac_item",
			"did not answer with JSON",
		],
		[
			"a document that is not an Item",
			{ stac_item: `${COGS}/t2/fields.geojson` },
			"invalid-stac",
			"stac_item",
			"is not a STAC Item",
		],
		[
			"an asset the item lacks",
			{ stac_item: ITEM_V10, inputs: { red: { asset: "swir22" } } },
			"invalid-stac",
			"inputs.red.asset",
			"has no asset 'swir22'",
		],
		[
			"an item whose only red is a JPEG 2000 on s3://",
			{ index: undefined, expression: "red", stac_item: `${COGS}/stac/s2-l2a-jp2-only.json` },
			"invalid-stac",
			"stac_item",
			"is not an http(s) URL",
		],
		[
			"an asset that is not a GeoTIFF",
			{ stac_item: ITEM_V10, inputs: { red: { asset: "thumbnail" } } },
			"invalid-stac",
			"inputs.red.asset",
			"not a GeoTIFF",
		],
		[
			"an asset on a private host",
			{ stac_item: "https://stac.test/item/private-asset" },
			"invalid-stac",
			"stac_item",
			"must name a public host",
		],
		[
			"an asset href with credentials",
			{ stac_item: "https://stac.test/item/credentials-asset" },
			"invalid-stac",
			"stac_item",
			"must not carry credentials",
		],
		[
			"an asset on plain http",
			{ stac_item: "https://stac.test/item/plain-http-asset" },
			"invalid-stac",
			"stac_item",
			"must be an https:// URL",
		],
		[
			"an asset outside the job's allowlist",
			{
				inputs: {
					red: { stac_item: "https://stac.test/item/private-asset", asset: "nir" },
					nir: { href: "https://mirror.cogs.test/files/s2_nir_256.tif" },
				},
				remote: { allowed_hosts: ["stac.test", "mirror.cogs.test"] },
			},
			"invalid-stac",
			"inputs.red.asset",
			"not among the allowed hosts",
		],
		[
			"an item whose datetime is not RFC 3339",
			{ stac_item: "https://stac.test/item/datetime-not-rfc3339" },
			"invalid-stac",
			"stac_item",
			"RFC 3339",
		],
	])("at ingest: %s fails the job, naming the field", async (_, fields, code, path, reason) => {
		const job = await run({ index: "ndvi", ...fields });
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("ingest");
		expect(job.error?.type).toBe(`https://eo-edge.dev/problems/${code}`);
		expect(job.error?.errors?.map((error) => error.path)).toEqual([path]);
		expect(job.error?.detail).toContain(reason);
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});
});

describe("ALLOW_LOOPBACK_URLS", () => {
	it("is never set in wrangler.toml, in any environment", () => {
		expect(wranglerToml).not.toContain("ALLOW_LOOPBACK_URLS");
		const config = parse(wranglerToml) as {
			vars?: Record<string, unknown>;
			env?: Record<string, { vars?: Record<string, unknown> }>;
		};
		expect(config.vars).not.toHaveProperty("ALLOW_LOOPBACK_URLS");
		for (const environment of Object.values(config.env ?? {}))
			expect(environment.vars ?? {}).not.toHaveProperty("ALLOW_LOOPBACK_URLS");
		expect(env.ALLOW_LOOPBACK_URLS).toBeUndefined();
	});

	it("when set, lets a job read items and files on the developer's own machine, and nothing else private", async () => {
		const local = { ALLOW_LOOPBACK_URLS: "true", INGEST_QUEUE: heldQueue };
		const body = (item: string) => ({
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({
				index: "ndvi",
				inputs: { red: { stac_item: item }, nir: { href: "http://localhost:8000/files/s2_nir_256.tif" } },
			}),
		});
		const stillPrivate = await expectProblem(
			await apiWith(local, "/v1/jobs", body("https://10.0.0.1/item.json")),
			422,
			"validation-failed",
		);
		expect(stillPrivate.errors?.map((error) => error.path)).toEqual(["inputs.red.stac_item"]);
		const response = await apiWith(local, "/v1/jobs", body("http://127.0.0.1:8000/files/stac/s2-l2a-v1.0.json"));
		expect(response.status, await response.clone().text()).toBe(202);
		const { id } = await json<{ id: string }>(response);
		const queued = await getJob(env.DB, id);
		const { testEnv, sent } = recordingEnv({ ALLOW_LOOPBACK_URLS: "true" });
		const { result } = await deliver("eo-edge-ingest", { job_id: id, trace_id: queued?.traceId }, testEnv);
		expect(result.explicitAcks, JSON.stringify((await getJob(env.DB, id))?.error)).toHaveLength(1);
		expect(sent.validate).toHaveLength(1);
		const job = await getJob(env.DB, id);
		expect(job?.request.inputs.red).toMatchObject({ href: `${COGS}/s2_red_256.tif`, stac: { asset: "red" } });
		// Without the flag where the fetch happens, the same URL is refused there too.
		const again = await apiWith(local, "/v1/jobs", body("http://127.0.0.1:8000/files/stac/s2-l2a-v1.0.json"));
		const later = await getJob(env.DB, (await json<{ id: string }>(again)).id);
		await deliver("eo-edge-ingest", { job_id: later?.id, trace_id: later?.traceId }, recordingEnv().testEnv);
		const refused = await getJob(env.DB, later?.id ?? "");
		expect(refused?.status).toBe("failed");
		expect(refused?.error?.errors?.map((error) => error.path)).toEqual(["inputs.red.stac_item"]);
		expect(refused?.error?.detail).toContain("ALLOW_LOOPBACK_URLS");
	});
});
