/**
 * The zonal process's publish. Every window the job's compute stored is read and each date's
 * fields joined (a field cut by windows' edges from its partial weighings), then zones.csv,
 * zones.geojson and zones.parquet are written from the joined statistics.
 *
 * A job of more than {@link FIELD_DATES_IN_ONE_INVOCATION} field-dates publishes in steps
 * (Process.publishSteps), each an invocation of its own: `statistics` joins the windows into one
 * table (date-statistics.ts) and stores it, then `zones.csv`, `zones.geojson` and `zones.parquet`
 * each write their artifact from the table, and publish itself says what to record. In one
 * invocation, the artifacts' garbage on top of the windows' bytes passed a heavy message's memory
 * budget at ten dates of a thousand fields (bench:fields: 58-67 MiB of 56). A step writes its
 * artifact range of fields by range ({@link FIELD_DATES_PER_PART}) into parts it then joins, so
 * that the results it holds do not grow with the job (a hundred dates of a thousand fields held
 * all at once ran a 100 MiB heap out of memory).
 */
import type { ArtifactRecord } from "../../db/artifacts";
import type { JobRecord } from "../../db/jobs";
import type { FieldFeature } from "../../fields/collection";
import { randomHex } from "../../ids";
import { jobFormula } from "../../indices/formula";
import type { PublishedResult, PublishStep, StageContext } from "../../pipeline/stage";
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
import { putChunks, putJoined } from "../../storage/objects";
import { Utf8Chunks } from "../../utf8-chunks";
import { type DateStatistics, newDateStatistics, readDateStatistics } from "./date-statistics";
import { jobFeatures } from "./features";
import { type ZoneResult, ZonesParquet, zonesCsv, zonesGeoJson } from "./outputs";
import { type ZonalPlan, zonalPlan } from "./plan";
import {
	countOutside,
	missedField,
	outsideFieldsWarnings,
	percentileKey,
	requestedPercentiles,
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

/**
 * Fields times dates up to which publish runs in one invocation. bench:fields, one invocation: a
 * thousand fields on one date peaked at 37-42 MiB, two thousand at 65 MiB and a thousand on ten
 * dates at 58-67 MiB, of a heavy message's 56; in steps, two thousand on one date and a thousand
 * on ten peaked at 33 and 50 MiB. Steps cost an invocation each (10 to 20 ms of CPU apiece before
 * any work), which a small job would feel.
 */
export const FIELD_DATES_IN_ONE_INVOCATION = 1000;

export const ZONE_ARTIFACTS = {
	geojson: { name: "zones.geojson", mediaType: "application/geo+json" },
	csv: { name: "zones.csv", mediaType: "text/csv; charset=utf-8" },
	parquet: { name: "zones.parquet", mediaType: "application/vnd.apache.parquet" },
} as const;

type ZoneArtifact = keyof typeof ZONE_ARTIFACTS;

/** The artifacts in the order publish writes and records them. */
const ARTIFACT_ORDER: readonly ZoneArtifact[] = ["csv", "geojson", "parquet"];

/**
 * Field-dates of one part of an artifact a large job writes in parts (a range of its fields, all
 * their dates): the part's results are all of them held at once. A thousand fields on ten dates,
 * bench:fields' largest job, is one part.
 */
const FIELD_DATES_PER_PART = 10_000;

/** Every field's statistics on every date of the job, as the artifacts are made from them. */
interface JoinedStatistics {
	job: JobRecord;
	plan: ZonalPlan;
	features: FieldFeature[];
	keys: string[];
	/** By acquisition ({@link acquisitionsOf}): the dates of the series as the outputs list them. */
	acquisitions: DateStatistics[];
	/**
	 * The last range's results ({@link zoneResults}): a job of one range makes them once for its
	 * three artifacts and its warnings, rather than four times over.
	 */
	lastRange?: { from: number; to: number; results: ZoneResult[] };
}

const PUBLISH_STEPS: readonly PublishStep[] = [
	{
		name: "statistics",
		async run({ env, job }) {
			const { table } = await joinedStatistics(env, job);
			await env.BUCKET.put(objectKeys.zonalStatistics(job.id), table);
		},
	},
	...ARTIFACT_ORDER.map(
		(kind): PublishStep => ({
			name: ZONE_ARTIFACTS[kind].name,
			async run({ env, job }) {
				await writeArtifact(env, await storedStatistics(env, job), kind);
			},
		}),
	),
];

export async function zonalPublishSteps({ env, job }: StageContext): Promise<readonly PublishStep[]> {
	return (await fieldDates(env, job)) > FIELD_DATES_IN_ONE_INVOCATION ? PUBLISH_STEPS : [];
}

/** The job's artifacts, written here or by its steps, what to record of them, the warnings and the job's Item. */
export async function publishZonal({ env, job }: StageContext): Promise<PublishedResult> {
	const artifacts: ArtifactRecord[] = [];
	let joined: JoinedStatistics;
	if ((await fieldDates(env, job)) > FIELD_DATES_IN_ONE_INVOCATION) {
		joined = await storedStatistics(env, job);
		for (const kind of ARTIFACT_ORDER) {
			const { name, mediaType } = ZONE_ARTIFACTS[kind];
			const objectKey = objectKeys.artifact(job.id, name);
			const stored = await env.BUCKET.head(objectKey);
			if (!stored) throw new Error(`job ${job.id}: its step ${name} stored nothing`);
			artifacts.push({ name, mediaType, bytes: stored.size, objectKey });
		}
	} else {
		({ joined } = await joinedStatistics(env, job));
		// One artifact's body at a time: each is as large as the results again.
		for (const kind of ARTIFACT_ORDER) artifacts.push(await writeArtifact(env, joined, kind));
	}
	const { features } = joined;
	const outside: { named: string[]; count: number } = { named: [], count: 0 };
	let valid = 0;
	for (const [from, to] of fieldRanges(joined)) {
		const results = zoneResults(joined, from, to);
		countOutside(results, outside);
		for (const { series } of results) if (series.some(({ statistics }) => statistics.count > 0)) valid++;
	}
	return {
		artifacts,
		warnings: outsideFieldsWarnings(outside, features.length),
		detail: { fields: features.length, dates: joined.acquisitions.length, fields_with_values: valid },
		item: resultItem(job, features),
	};
}

/** The job's fields times its acquisitions (the series' dates): what publish's memory grows with. */
async function fieldDates(env: Env, job: JobRecord): Promise<number> {
	return (await jobFeatures(env, job)).length * acquisitionsOf(zonalPlan(job)).length;
}

/** The job's fields in ranges of at most {@link FIELD_DATES_PER_PART} field-dates (one field at least). */
function fieldRanges({ features, acquisitions }: JoinedStatistics): [number, number][] {
	const step = Math.max(1, Math.floor(FIELD_DATES_PER_PART / Math.max(1, acquisitions.length)));
	const ranges: [number, number][] = [];
	for (let from = 0; from < features.length; from += step) ranges.push([from, Math.min(features.length, from + step)]);
	return ranges;
}

/**
 * Writes one artifact: whole when the job's fields are one range ({@link fieldRanges}), else range
 * by range into parts under the job's work prefix, joined into the artifact as they are streamed
 * back, so that no invocation holds more than one range's results or one part's bytes.
 */
async function writeArtifact(env: Env, joined: JoinedStatistics, kind: ZoneArtifact): Promise<ArtifactRecord> {
	const { job, keys, features } = joined;
	const timeSeries = job.request.dates !== undefined;
	const { name, mediaType } = ZONE_ARTIFACTS[kind];
	const objectKey = objectKeys.artifact(job.id, name);
	const options = { httpMetadata: { contentType: mediaType } };
	const ranges = fieldRanges(joined);
	const parquet = kind === "parquet" ? new ZonesParquet(features, keys, { timeSeries }) : null;
	/** The artifact's text or bytes for fields [from, to); the footer closes a Parquet file's last. */
	const partOf = ([from, to]: [number, number], i: number) => {
		const results = zoneResults(joined, from, to);
		const part = { first: i === 0, last: i === ranges.length - 1 };
		if (kind === "csv") return zonesCsv(results, keys, part);
		if (kind === "geojson") return zonesGeoJson(results, { timeSeries }, part);
		const file = parquet as ZonesParquet;
		file.add(results);
		if (part.last) file.finish();
		return file.take();
	};
	// A text is streamed out of its chunks rather than joined.
	const put = (key: string, body: Utf8Chunks | Uint8Array) =>
		body instanceof Utf8Chunks
			? putChunks(env.BUCKET, key, body.byteLength, body.drain(), options)
			: env.BUCKET.put(key, body, options);
	let object: R2Object;
	if (ranges.length === 1) object = await put(objectKey, partOf(ranges[0] as [number, number], 0));
	else {
		// Parts of this delivery's own: a redelivery running beside it, or a deploy's other bytes, never mixes with them.
		const writing = randomHex(8);
		const parts: { key: string; size: number }[] = [];
		for (const [i, range] of ranges.entries()) {
			const key = objectKeys.zonalArtifactPart(job.id, name, writing, i);
			parts.push({ key, size: (await put(key, partOf(range, i))).size });
		}
		object = await putJoined(env.BUCKET, objectKey, parts, options);
		await env.BUCKET.delete(parts.map((part) => part.key));
	}
	return { name, mediaType, bytes: object.size, objectKey };
}

/** Every date's statistics, joined from the job's windows, and the table's bytes that hold them (date-statistics.ts). */
async function joinedStatistics(env: Env, job: JobRecord): Promise<{ joined: JoinedStatistics; table: Uint8Array }> {
	const plan = zonalPlan(job);
	const features = await jobFeatures(env, job);
	const keys = requestedPercentiles(job.request).map(percentileKey);
	const { bytes, dates: acquisitions } = newDateStatistics(acquisitionsOf(plan).length, features.length, keys);
	await windowStatistics(env, job, plan, { acquisitions, fields: features.length, keys });
	return { joined: { job, plan, features, keys, acquisitions }, table: bytes };
}

/** Every date's statistics, from the table the step `statistics` stored. */
async function storedStatistics(env: Env, job: JobRecord): Promise<JoinedStatistics> {
	const plan = zonalPlan(job);
	const features = await jobFeatures(env, job);
	const keys = requestedPercentiles(job.request).map(percentileKey);
	const object = await env.BUCKET.get(objectKeys.zonalStatistics(job.id));
	if (!object) throw new Error(`job ${job.id}: publish's step statistics stored nothing`);
	const acquisitions = readDateStatistics(
		new Uint8Array(await object.arrayBuffer()),
		{ dates: acquisitionsOf(plan).length, fields: features.length },
		keys,
	);
	return { job, plan, features, keys, acquisitions };
}

/**
 * Fills in every acquisition's statistics (`acquisitions`, in the order of {@link acquisitionsOf},
 * of `fields` fields and the percentiles of `keys`) from the job's windows. The windows are planned
 * date by date, so a date's fields cut by windows are joined and finished once its last window is
 * read, and only one date's partial weighings (and the window bytes they view) are held at a time.
 * A date's fields go to its acquisition's rows, each field from the first of the acquisition's
 * dates that weighed it (each item weighs its own fields, see fieldsByDate): an acquisition of
 * several items is one row of statistics a field, as it is one date of the outputs.
 */
async function windowStatistics(
	env: Env,
	job: JobRecord,
	plan: ZonalPlan,
	{ acquisitions, fields, keys }: { acquisitions: DateStatistics[]; fields: number; keys: readonly string[] },
): Promise<void> {
	const acquisitionOfDate: number[] = [];
	acquisitionsOf(plan).forEach((group, g) => {
		for (const d of group) acquisitionOfDate[d] = g;
	});
	const acquisitionOf = (date: number | undefined) =>
		date === undefined ? undefined : acquisitions[acquisitionOfDate[date] ?? -1];
	/**
	 * The date's cut fields: each one's partials in the order of its windows, views of their bytes,
	 * joined one field after another in the isolate's accumulator (synchronously, as compute weighs in
	 * it): an accumulator per cut field ran finish's loops unoptimized, each double boxed, and that
	 * garbage was most of what publish allocated (bench:fields).
	 */
	let partial = { date: -1, fields: new Map<number, WeightedStatistics[]>() };
	const finishPartial = () => {
		const statistics = acquisitionOf(partial.date);
		for (const [f, [first, ...rest]] of partial.fields) {
			if (!first || !statistics || statistics.weighed[f] === 1) continue;
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
			const statistics = acquisitionOf(date);
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
				if (statistics.weighed[f] === 1) continue;
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
}

/**
 * The plan's dates by acquisition: dates at one datetime are one acquisition's items, each weighing
 * its own fields (see fieldsByDate), reported as one date.
 */
function acquisitionsOf(plan: ZonalPlan): number[][] {
	const acquisitions = new Map<string | null, number[]>();
	plan.zonal.dates.forEach((date, d) => {
		const key = date.datetime === null ? null : new Date(date.datetime).toISOString();
		acquisitions.set(key, [...(acquisitions.get(key) ?? []), d]);
	});
	return [...acquisitions.values()];
}

/** Fields [from, to) of the job, each with its statistics per acquisition, as the artifacts take them. */
function zoneResults(joined: JoinedStatistics, from: number, to: number): ZoneResult[] {
	const { lastRange } = joined;
	if (lastRange?.from === from && lastRange.to === to) return lastRange.results;
	const results = rangeResults(joined, from, to);
	joined.lastRange = { from, to, results };
	return results;
}

function rangeResults(joined: JoinedStatistics, from: number, to: number): ZoneResult[] {
	const { job, plan, features, acquisitions } = joined;
	const datetimes = acquisitionsOf(plan).map((group) => plan.zonal.dates[group[0] as number]?.datetime ?? null);
	return features.slice(from, to).map((feature, i): ZoneResult => {
		const f = from + i;
		const series = acquisitions.map(({ rows, weighed }, g) => ({
			datetime: datetimes[g] ?? null,
			statistics: weighed[f] === 1 ? rows.get(f) : missedField(job.request),
		}));
		return { id: feature.id, geometry: feature.geometry, properties: feature.properties, series };
	});
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
