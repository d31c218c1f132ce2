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
import { missedField, outsideFieldsWarnings, percentileKey, requestedPercentiles, zoneStatistics } from "./statistics";
import { StatisticsRows } from "./statistics-rows";
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
	const keys = requestedPercentiles(job.request).map(percentileKey);
	// The dates' tables are let go once the results are made: nothing past this line holds them.
	const { results, acquisitions, valid } = zoneResults(
		job,
		plan.zonal.dates,
		features,
		await windowStatistics(env, job, plan, features.length, keys),
	);
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
	return {
		artifacts,
		warnings: outsideFieldsWarnings(results),
		detail: { fields: results.length, dates: acquisitions, fields_with_values: valid },
		item: resultItem(job, features),
	};
}

/** One date's statistics: every field's as a row (by field position), and which fields were weighed. */
interface DateStatistics {
	rows: StatisticsRows;
	weighed: Uint8Array;
}

/**
 * Every date's statistics from the job's windows. The windows are planned date by date, so a
 * date's fields cut by windows are joined and finished once its last window is read, and only
 * one date's partial weighings (and the window bytes they view) are held at a time.
 */
async function windowStatistics(
	env: Env,
	job: JobRecord,
	plan: ReturnType<typeof zonalPlan>,
	fields: number,
	keys: readonly string[],
): Promise<DateStatistics[]> {
	const dates = plan.zonal.dates.map(() => ({
		rows: new StatisticsRows(keys, fields),
		weighed: new Uint8Array(fields),
	}));
	/**
	 * The date's cut fields: each one's partials in the order of its windows, views of their bytes,
	 * joined one field after another in the isolate's accumulator (synchronously, as compute weighs in
	 * it): an accumulator per cut field ran finish's loops unoptimized, each double boxed, and that
	 * garbage was most of what publish allocated (bench:fields).
	 */
	let partial = { date: -1, fields: new Map<number, WeightedStatistics[]>() };
	const finishPartial = () => {
		const statistics = dates[partial.date];
		for (const [f, [first, ...rest]] of partial.fields) {
			if (!first || !statistics) continue;
			// A sketched first partial is the base itself, as a merge into an empty accumulator would fold it anew.
			const base = first.isSketched ? first : isolateAccumulator;
			if (base === isolateAccumulator) {
				isolateAccumulator.clear();
				isolateAccumulator.merge(first);
			}
			for (const other of rest) base.merge(other);
			statistics.rows.set(f, zoneStatistics(base, job.request));
			statistics.weighed[f] = 1;
		}
		// Lets a field's pairs past what the accumulator keeps between fields go, and the date's window bytes.
		isolateAccumulator.clear();
		partial.fields.clear();
	};
	for (let start = 0; start < plan.strips.length; start += WINDOW_READS_IN_FLIGHT) {
		const batch = plan.strips.slice(start, start + WINDOW_READS_IN_FLIGHT);
		const stored = await Promise.all(
			batch.map(async ({ index }) => {
				const object = await env.BUCKET.get(objectKeys.zonalWindow(job.id, index));
				if (!object) throw new Error(`job ${job.id}: window ${index} stored nothing`);
				return { index, fields: readWindowFields(new Uint8Array(await object.arrayBuffer()), keys) };
			}),
		);
		for (const { index, fields: window } of stored) {
			const date = plan.zonal.windows[index]?.date;
			const statistics = date === undefined ? undefined : dates[date];
			if (date === undefined || !statistics) throw new Error(`job ${job.id}: window ${index} is not planned`);
			if (date !== partial.date) {
				if (date < partial.date) throw new Error(`job ${job.id}: window ${index} is out of its date's order`);
				finishPartial();
				partial = { date, fields: new Map() };
			}
			const { fields: positions, statistics: rows } = window.finished;
			for (let row = 0; row < positions.length; row++) {
				const f = positions[row] as number;
				if (f >= fields) throw new Error(`job ${job.id}: window ${index} weighed field ${f} of ${fields}`);
				statistics.rows.copy(rows, row, f);
				statistics.weighed[f] = 1;
			}
			for (const [f, bytes] of window.partial) {
				const weighed = WeightedStatistics.fromBytes(bytes);
				const earlier = partial.fields.get(f);
				if (earlier) earlier.push(weighed);
				else partial.fields.set(f, [weighed]);
			}
		}
	}
	finishPartial();
	return dates;
}

/**
 * Each field with its statistics per acquisition, as the artifacts take them; how many
 * acquisitions, and how many fields counted a valid pixel on some date.
 */
function zoneResults(
	job: JobRecord,
	dates: ReturnType<typeof zonalPlan>["zonal"]["dates"],
	features: readonly FieldFeature[],
	statistics: readonly DateStatistics[],
): { results: ZoneResult[]; acquisitions: number; valid: number } {
	// Dates at one datetime are one acquisition's items, each weighing its own fields (see fieldsByDate).
	const acquisitions = new Map<string | null, number[]>();
	dates.forEach((date, d) => {
		const key = date.datetime === null ? null : new Date(date.datetime).toISOString();
		acquisitions.set(key, [...(acquisitions.get(key) ?? []), d]);
	});
	const groups = [...acquisitions.values()];
	/** Per acquisition, the date that weighed field `f`, or undefined where none did. */
	const weighedOn = (f: number) => groups.map((group) => group.find((d) => statistics[d]?.weighed[f] === 1));
	let valid = 0;
	const results = features.map((feature, f): ZoneResult => {
		const series = weighedOn(f).map((d, i) => ({
			datetime: dates[groups[i]?.[0] as number]?.datetime ?? null,
			statistics: d === undefined ? missedField(job.request) : (statistics[d] as DateStatistics).rows.get(f),
		}));
		if (series.some((entry) => entry.statistics.count > 0)) valid++;
		return { id: feature.id, geometry: feature.geometry, properties: feature.properties, series };
	});
	return { results, acquisitions: acquisitions.size, valid };
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
