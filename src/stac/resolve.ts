/**
 * Ingest's STAC step, for a job of any process: a request that names STAC items or a search is
 * rewritten into concrete inputs (each asset's href, with the band, scale, offset and nodata the
 * item states unless the request gave them, and where each came from) and, for a search or
 * dates given as items, concrete dates with the items' datetimes. Stages after ingest read the
 * rewritten request as they read any other.
 *
 * A search's dates all name the same inputs (the formula's, by common name, and the request's
 * extra assets), so the formula compiled at submission against those names serves every date.
 * An acquisition of several items (neighbouring tiles at one datetime) becomes one stored date
 * per item, all at that datetime, each with its item's footprint: the zonal plan weighs each
 * field on the one whose footprint covers it, and reports the acquisition as one date.
 */
import type { JobInputRequest, JobInputSource, JobRecord, JobRequest } from "../db/jobs";
import { ApiError } from "../errors/api-error";
import { checkFieldCollection, fieldLimits } from "../fields/collection";
import { concreteInput, storedInputs } from "../processes/inputs";
import { remoteReadProblem } from "../raster/input-errors";
import {
	fetchRemoteJson,
	type RemoteAccess,
	RemoteReadError,
	remoteAccess,
	remoteHref,
	remoteUrlRefusal,
} from "../raster/remote";
import { readFieldCollection } from "../storage/field-collections";
import { acquisitions, MAX_STAC_DOCUMENT_BYTES, searchItems } from "./search";
import { parseItem, resolveAsset, type SourceItem, stacProblem, type WantedAssets } from "./source-item";

/** Dates a search may give a series at most (the request's own cap on dates). */
const MAX_SEARCH_DATES = 100;

type StoredDate = NonNullable<JobRequest["dates"]>[number];

/** Fetches each item once per resolution, however many inputs read it. */
class ItemReader {
	private readonly items = new Map<string, Promise<SourceItem | ApiError>>();
	constructor(
		readonly access: RemoteAccess,
		readonly wanted: WantedAssets,
	) {}

	read(url: string, path: string): Promise<SourceItem | ApiError> {
		let item = this.items.get(url);
		if (!item) {
			item = this.fetch(url, path);
			this.items.set(url, item);
		}
		return item;
	}

	private async fetch(url: string, path: string): Promise<SourceItem | ApiError> {
		const href = remoteHref.safeParse(url);
		if (!href.success) return stacProblem(path, "is not a URL EO Edge may fetch");
		let document: unknown;
		try {
			document = await fetchRemoteJson(href.data, this.access, MAX_STAC_DOCUMENT_BYTES);
		} catch (error) {
			if (error instanceof RemoteReadError) return remoteReadProblem(error, "STAC item", path);
			throw error;
		}
		return parseItem(document, href.data, path, this.wanted);
	}
}

/**
 * Why an asset's href may not be read, or null: an item's hrefs follow every rule a request's
 * href does (HTTPS, public hosts, no credentials, length, allowlists, loopback only under the
 * flag), checked here so that the job fails naming the request field instead of the read
 * failing later as a fault of ours. Credentials are left out of what the tenant is told.
 */
function assetHrefRefusal(href: string, access: RemoteAccess): string | null {
	const parsed = remoteHref.safeParse(href);
	const refused = parsed.success
		? remoteUrlRefusal(new URL(parsed.data), access)
		: (parsed.error.issues[0]?.message ?? "is not a URL EO Edge may fetch");
	if (refused === null) return null;
	const shown = URL.parse(href);
	if (shown) {
		shown.username = "";
		shown.password = "";
	}
	return `its href ${shown?.href ?? href}: ${refused}`;
}

/** Where a place's inputs stand in the request (`` or `dates[2].`) and the item they default to. */
interface Place {
	prefix: string;
	item: SourceItem | null;
	/** The request field that named the place's item (`stac_item`, `dates[2].stac_item`, `stac_search`). */
	itemPath: string;
}

/** The place's inputs made concrete; every STAC input with its item and asset. */
async function concreteInputs(
	inputs: Record<string, JobInputSource>,
	place: Place,
	items: ItemReader,
): Promise<{ inputs: Record<string, JobInputRequest>; items: SourceItem[] } | ApiError> {
	const concrete: Record<string, JobInputRequest> = {};
	const used: SourceItem[] = [];
	for (const [name, input] of Object.entries(inputs)) {
		const at = `${place.prefix}inputs.${name}`;
		if (input.upload_id !== undefined) {
			concrete[name] = concreteInput(input, { upload_id: input.upload_id });
			continue;
		}
		if (input.href !== undefined) {
			concrete[name] = concreteInput(input, { href: input.href });
			continue;
		}
		const item = input.stac_item !== undefined ? await items.read(input.stac_item, `${at}.stac_item`) : place.item;
		if (item instanceof ApiError) return item;
		if (!item) return stacProblem(at, "names an asset but no STAC item: give stac_item here or for the job");
		const path =
			input.asset !== undefined ? `${at}.asset` : input.stac_item !== undefined ? `${at}.stac_item` : place.itemPath;
		const asset = resolveAsset(item, { asset: input.asset, name }, path);
		if (asset instanceof ApiError) return asset;
		const refused = assetHrefRefusal(asset.href, items.access);
		if (refused) return stacProblem(path, `asset '${asset.key}' of item ${item.id} cannot be read: ${refused}`);
		concrete[name] = concreteInput(input, { href: asset.href, stac: { item: item.url, asset: asset.key } }, asset);
		if (!used.includes(item)) used.push(item);
	}
	return { inputs: concrete, items: used };
}

/** The fields' extent in longitude/latitude, the search's intersects. */
async function fieldsExtent(env: Env, request: JobRequest): Promise<[number, number, number, number] | ApiError> {
	const zones = request.zones;
	if (!zones) return stacProblem("stac_search", "a search needs the job's fields (zones) for its extent");
	const collection = await readFieldCollection(env.BUCKET, zones.object_key);
	if (collection === null) {
		return new ApiError("input-unavailable", "the job's copy of its fields is no longer stored", {
			errors: [{ path: "zones", message: "not found in storage" }],
		});
	}
	const checked = checkFieldCollection(collection, fieldLimits(env), "zones", { geometryChecked: true });
	return checked instanceof ApiError ? checked : checked.bbox;
}

/** Dates of a search: one per item of each acquisition, the acquisition's items sharing its datetime. */
async function searchDates(
	env: Env,
	request: JobRequest,
	stac: NonNullable<JobRequest["stac"]>,
	access: RemoteAccess,
	items: ItemReader,
): Promise<StoredDate[] | ApiError> {
	const search = stac.search;
	if (!search) throw new Error("searchDates without a search");
	const extent = await fieldsExtent(env, request);
	if (extent instanceof ApiError) return extent;
	let found: SourceItem[] | ApiError;
	try {
		found = await searchItems(search, extent, access, items.wanted);
	} catch (error) {
		if (error instanceof RemoteReadError) return remoteReadProblem(error, "STAC search", "stac_search.url");
		throw error;
	}
	if (found instanceof ApiError) return found;
	const groups = acquisitions(found);
	if (groups.length === 0) {
		const message = `the search of ${search.url} found no items over the fields' extent (${extent.join(", ")})${search.datetime ? ` in ${search.datetime}` : ""}`;
		return new ApiError("stac-no-items", message, { errors: [{ path: "stac_search", message: "found no items" }] });
	}
	if (groups.length > MAX_SEARCH_DATES) {
		return stacProblem(
			"stac_search",
			`the search found ${groups.length} acquisitions; a series has at most ${MAX_SEARCH_DATES} dates`,
		);
	}
	const dates: StoredDate[] = [];
	for (const group of groups) {
		for (const item of group.items) {
			const place = { prefix: "", item, itemPath: "stac_search" };
			const resolved = await concreteInputs(stac.inputs ?? {}, place, items);
			if (resolved instanceof ApiError) return resolved;
			dates.push({
				datetime: group.datetime,
				inputs: resolved.inputs,
				...(request.mask ? { mask: request.mask } : {}),
				...(group.items.length > 1 && item.bbox ? { footprint: item.bbox } : {}),
			});
		}
	}
	return dates;
}

/** Dates given by the request, those of a STAC item taking its datetime. */
async function givenDates(stac: NonNullable<JobRequest["stac"]>, items: ItemReader): Promise<StoredDate[] | ApiError> {
	const dates: StoredDate[] = [];
	const firstAt = new Map<number, number>();
	for (const [i, date] of (stac.dates ?? []).entries()) {
		const itemPath = `dates[${i}].stac_item`;
		const item = date.stac_item !== undefined ? await items.read(date.stac_item, itemPath) : null;
		if (item instanceof ApiError) return item;
		const resolved = await concreteInputs(date.inputs, { prefix: `dates[${i}].`, item, itemPath }, items);
		if (resolved instanceof ApiError) return resolved;
		const datetime = date.datetime ?? item?.datetime;
		if (!datetime) return stacProblem(itemPath, "the item has no datetime; give the date's datetime");
		const instant = Date.parse(datetime);
		const first = firstAt.get(instant);
		if (first !== undefined) {
			return stacProblem(
				date.datetime ? `dates[${i}].datetime` : itemPath,
				`is the datetime of dates[${first}] too; a series has one entry per date`,
			);
		}
		firstAt.set(instant, i);
		dates.push({ datetime, inputs: resolved.inputs, ...(date.mask ? { mask: date.mask } : {}) });
	}
	return dates;
}

/** Every input name and asset key the request's STAC places read: all an item must keep. */
function wantedAssets(stac: NonNullable<JobRequest["stac"]>): WantedAssets {
	const places = [stac.inputs ?? {}, ...(stac.dates ?? []).map((date) => date.inputs)];
	const inputs = places.flatMap((inputs) => Object.entries(inputs));
	return {
		names: new Set(inputs.map(([name]) => name)),
		keys: new Set(inputs.flatMap(([, input]) => (input.asset === undefined ? [] : [input.asset]))),
	};
}

/**
 * The job's request with its STAC sources made concrete and marked resolved, or the problem
 * that fails the job. Catalog answers a retry may cure are thrown (TransientFault).
 */
export async function resolveStacSources(env: Env, job: JobRecord): Promise<JobRequest | ApiError> {
	const { request } = job;
	const stac = request.stac;
	if (!stac) return request;
	const access = remoteAccess(env, request.remote?.allowed_hosts);
	const items = new ItemReader(access, wantedAssets(stac));
	const resolvedStac = { ...stac, resolved: true };
	if (stac.search || stac.dates) {
		const dates = stac.search ? await searchDates(env, request, stac, access, items) : await givenDates(stac, items);
		if (dates instanceof ApiError) return dates;
		// A search's mask applies to each date; the dates carry it from here on.
		return {
			...request,
			...storedInputs(undefined, dates),
			mask: stac.search ? undefined : request.mask,
			stac: resolvedStac,
		};
	}
	const item = stac.item !== undefined ? await items.read(stac.item, "stac_item") : null;
	if (item instanceof ApiError) return item;
	const resolved = await concreteInputs(stac.inputs ?? {}, { prefix: "", item, itemPath: "stac_item" }, items);
	if (resolved instanceof ApiError) return resolved;
	const [only] = resolved.items;
	// A scene from one item is dated by it, unless the request dated it.
	const datetime = request.datetime ?? (resolved.items.length === 1 ? (only?.datetime ?? undefined) : undefined);
	return { ...request, ...storedInputs(resolved.inputs, undefined), datetime, stac: resolvedStac };
}
