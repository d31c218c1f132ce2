/**
 * The zonal process's publish: every field's statistics on every date, from what its windows
 * stored (a field cut by windows' edges joined here from its partial weighings), written as
 * zones.geojson, zones.csv and zones.parquet.
 */
import type { ArtifactRecord } from "../../db/artifacts";
import type { JobRecord } from "../../db/jobs";
import type { FieldFeature } from "../../fields/collection";
import { jobFormula } from "../../indices/formula";
import type { PublishedResult, StageContext } from "../../pipeline/stage";
import {
	formulaExpression,
	formulaLineage,
	hullFootprint,
	type ResultItem,
	seriesTime,
	singleDateTime,
} from "../../stac/item";
import { FIELD_COLLECTION_MEDIA_TYPE } from "../../storage/field-collections";
import { objectKeys } from "../../storage/keys";
import { putChunks } from "../../storage/objects";
import { Utf8Chunks } from "../../utf8-chunks";
import { jobFeatures } from "./features";
import { type ZoneResult, zonesCsv, zonesGeoJson, zonesParquet } from "./outputs";
import { zonalPlan } from "./plan";
import {
	missedField,
	outsideFieldsWarnings,
	percentileKey,
	requestedPercentiles,
	type ZoneStatistics,
	zoneStatistics,
} from "./statistics";
import { isolateAccumulator, WeightedStatistics } from "./weighted-statistics";
import { readWindowFields } from "./window-fields";

/**
 * Window objects fetched at once: eight, with the garbage of reading them, were publish's largest
 * share of memory (bench:fields). A window's bytes outlive its fold only while its date's cut
 * fields still view them.
 */
const WINDOW_READS_IN_FLIGHT = 2;

export const ZONE_ARTIFACTS = {
	geojson: { name: "zones.geojson", mediaType: "application/geo+json" },
	csv: { name: "zones.csv", mediaType: "text/csv; charset=utf-8" },
	parquet: { name: "zones.parquet", mediaType: "application/vnd.apache.parquet" },
} as const;

export async function publishZonal({ env, job }: StageContext): Promise<PublishedResult> {
	const plan = zonalPlan(job);
	const features = await jobFeatures(env, job);
	const dates = plan.zonal.dates;
	/**
	 * Per date, per field position: its statistics. The windows are planned date by date, so a
	 * date's fields cut by windows are joined and finished once its last window is read, and only
	 * one date's partial weighings are held at a time.
	 */
	const finished = dates.map(() => new Map<number, ZoneStatistics>());
	/**
	 * The date's cut fields: each one's partials in the order of its windows, views of their bytes,
	 * joined one field after another in the isolate's accumulator (synchronously, as compute weighs in
	 * it): an accumulator per cut field ran finish's loops unoptimized, each double boxed, and that
	 * garbage was most of what publish allocated (bench:fields).
	 */
	let partial = { date: -1, fields: new Map<number, WeightedStatistics[]>() };
	const finishPartial = () => {
		for (const [f, [first, ...rest]] of partial.fields) {
			if (!first) continue;
			// A sketched first partial is the base itself, as a merge into an empty accumulator would fold it anew.
			const base = first.isSketched ? first : isolateAccumulator;
			if (base === isolateAccumulator) {
				isolateAccumulator.clear();
				isolateAccumulator.merge(first);
			}
			for (const other of rest) base.merge(other);
			finished[partial.date]?.set(f, zoneStatistics(base, job.request));
		}
		// Lets a field's pairs past what the accumulator keeps between fields go.
		isolateAccumulator.clear();
	};
	for (let start = 0; start < plan.strips.length; start += WINDOW_READS_IN_FLIGHT) {
		const batch = plan.strips.slice(start, start + WINDOW_READS_IN_FLIGHT);
		const stored = await Promise.all(
			batch.map(async ({ index }) => {
				const object = await env.BUCKET.get(objectKeys.zonalWindow(job.id, index));
				if (!object) throw new Error(`job ${job.id}: window ${index} stored nothing`);
				return { index, fields: readWindowFields(new Uint8Array(await object.arrayBuffer())) };
			}),
		);
		for (const { index, fields } of stored) {
			const date = plan.zonal.windows[index]?.date;
			if (date === undefined) throw new Error(`job ${job.id}: window ${index} is not planned`);
			if (date !== partial.date) {
				if (date < partial.date) throw new Error(`job ${job.id}: window ${index} is out of its date's order`);
				finishPartial();
				partial = { date, fields: new Map() };
			}
			for (const [f, statistics] of fields.finished) finished[date]?.set(f, statistics);
			for (const [f, bytes] of fields.partial) {
				const weighed = WeightedStatistics.fromBytes(bytes);
				const earlier = partial.fields.get(f);
				if (earlier) earlier.push(weighed);
				else partial.fields.set(f, [weighed]);
			}
		}
	}
	finishPartial();
	// Dates at one datetime are one acquisition's items, each weighing its own fields (see fieldsByDate).
	const acquisitions = new Map<string | null, number[]>();
	dates.forEach((date, d) => {
		const key = date.datetime === null ? null : new Date(date.datetime).toISOString();
		acquisitions.set(key, [...(acquisitions.get(key) ?? []), d]);
	});
	const results: ZoneResult[] = features.map((feature, f) => ({
		id: feature.id,
		geometry: feature.geometry,
		properties: feature.properties,
		series: [...acquisitions.values()].map((group) => {
			const weighedOn = group.find((d) => finished[d]?.has(f));
			const statistics =
				(weighedOn === undefined ? undefined : finished[weighedOn]?.get(f)) ?? missedField(job.request);
			return { datetime: dates[group[0] as number]?.datetime ?? null, statistics };
		}),
	}));
	const keys = requestedPercentiles(job.request).map(percentileKey);
	const timeSeries = job.request.dates !== undefined;
	// One artifact's body at a time: each is as large as the results again. A text is streamed out
	// of its chunks rather than joined.
	const bodies = {
		csv: () => zonesCsv(results, keys),
		geojson: () => zonesGeoJson(results, { timeSeries }),
		parquet: () => zonesParquet(results, keys, { timeSeries }),
	};
	const artifacts: ArtifactRecord[] = [];
	for (const kind of ["csv", "geojson", "parquet"] as const) {
		const { name, mediaType } = ZONE_ARTIFACTS[kind];
		const objectKey = objectKeys.artifact(job.id, name);
		const options = { httpMetadata: { contentType: mediaType } };
		const body = bodies[kind]();
		const object =
			body instanceof Utf8Chunks
				? await putChunks(env.BUCKET, objectKey, body.byteLength, body.drain(), options)
				: await env.BUCKET.put(objectKey, body, options);
		artifacts.push({ name, mediaType, bytes: object.size, objectKey });
	}
	const valid = results.filter((result) => result.series.some(({ statistics }) => statistics.count > 0)).length;
	return {
		artifacts,
		warnings: outsideFieldsWarnings(results),
		detail: { fields: results.length, dates: acquisitions.size, fields_with_values: valid },
		item: resultItem(job, features),
	};
}

/** A field's exterior rings' positions: its holes lie inside them. */
function exteriorPositions(feature: FieldFeature): [number, number][] {
	return feature.polygons.flatMap(([exterior = []]) => exterior);
}

/**
 * What the job's STAC Item says of the zone outputs and the formula. Its footprint is the convex
 * hull of the fields; a time series spans its dates.
 */
function resultItem(job: JobRecord, features: readonly FieldFeature[]): ResultItem {
	const formula = jobFormula(job);
	if (!formula) throw new Error(`job ${job.id} has no compiled formula`);
	const asset = (title: string, type: string) => ({ roles: ["data"], type, title });
	const fieldSet = job.request.zones?.field_set_id;
	return {
		footprint: hullFootprint(features.flatMap(exteriorPositions)),
		time: job.request.dates ? seriesTime(job.request.dates.map(({ datetime }) => datetime)) : singleDateTime(job),
		assets: {
			[ZONE_ARTIFACTS.geojson.name]: asset("The fields with their statistics", ZONE_ARTIFACTS.geojson.mediaType),
			[ZONE_ARTIFACTS.csv.name]: asset("Statistics per field and date", ZONE_ARTIFACTS.csv.mediaType),
			[ZONE_ARTIFACTS.parquet.name]: asset(
				"The fields with their statistics (GeoParquet)",
				ZONE_ARTIFACTS.parquet.mediaType,
			),
		},
		expression: formulaExpression(formula, job.request.inputs),
		lineage: formulaLineage(formula, "weighed per field by each pixel's coverage"),
		...(fieldSet
			? {
					sources: [
						{
							rel: "derived_from",
							href: `${job.request.base_url ?? ""}/v1/fields/${fieldSet}`,
							type: FIELD_COLLECTION_MEDIA_TYPE,
							title: `field set ${fieldSet}`,
						},
					],
				}
			: {}),
	};
}
