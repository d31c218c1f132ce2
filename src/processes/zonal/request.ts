/**
 * What a job of the zonal_statistics process asks for beyond the index process's formula: the
 * fields (a stored field set or a collection inline), how a pixel weighs in a field, the
 * percentiles, and optionally a time series of dates, each with its own inputs and mask.
 * Checked and compiled at submission; the formula is compiled once per date, against that
 * date's inputs, and stored as the first date's (every date names the same inputs).
 */
import { z } from "@hono/zod-openapi";
import { datedInputName, type JobRequest } from "../../db/jobs";
import { ApiError, type FieldError } from "../../errors/api-error";
import { FieldCollectionSchema } from "../../fields/collection";
import { FIELD_SET_ID_PATTERN } from "../../ids";
import { type CompiledFormula, compileFormula } from "../../indices/formula";
import { EXPRESSION_INDEX } from "../../indices/registry";
import type { CoverageRule } from "../../raster/coverage";
import { remoteHref } from "../../raster/remote";
import { StacSearchSchema } from "../../stac/search";
import { JobInputSchema } from "../inputs";
import { MaskSchema } from "../mask";

export const COVERAGE_RULES = ["fraction", "center", "all_touched"] as const satisfies readonly CoverageRule[];
export const DEFAULT_PERCENTILES = [2, 50, 98];
export const MAX_DATES = 100;
/**
 * Statistics (fields x dates) a job computes at most: its plan lists each window's fields, and
 * publish's statistics step holds every field's statistics on every date (an acquisition of
 * several items one), about 117 bytes each with three percentiles.
 */
export const MAX_FIELD_DATES = 100_000;

const ZonesSchema = z
	.union([
		z.strictObject({
			field_set_id: z
				.string()
				.regex(FIELD_SET_ID_PATTERN, "must be a field set id (fld_ followed by 24 hex digits)")
				.openapi({ description: "A field set made with POST /v1/fields", example: "fld_0123456789abcdef01234567" }),
		}),
		FieldCollectionSchema,
	])
	.openapi("Zones", {
		description:
			"The fields: a stored field set by id, or a GeoJSON FeatureCollection of Polygon and MultiPolygon features in longitude/latitude, checked as POST /v1/fields checks it",
	});

const DateSchema = z
	.strictObject({
		datetime: z.string().datetime({ offset: true }).optional().openapi({
			description:
				"When the date's scene was acquired (RFC 3339); the series is sorted by it. With stac_item, the item's datetime unless given",
			example: "2026-05-04T10:20:31Z",
		}),
		stac_item: remoteHref.optional().openapi({
			description:
				'HTTPS URL of the date\'s STAC Item: the formula\'s inputs are its assets by band common name, and `inputs` need only name extra assets (`{ "scl": { "asset": "scl" } }`)',
			example: "https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20260504_0_L2A",
		}),
		inputs: z.record(z.string(), JobInputSchema).optional().openapi({
			description:
				"The date's inputs, named as the formula needs them (the same names on every date); optional with stac_item",
		}),
		mask: MaskSchema.optional(),
	})
	.openapi("ZonalDate", {
		description: "One date of a time series: its scene's inputs (or STAC item) and its own mask",
	});

/** The zonal_statistics process's own fields of POST /v1/jobs. */
export const zonalRequestFields = {
	zones: ZonesSchema.optional(),
	coverage: z.enum(COVERAGE_RULES).optional().openapi({
		description:
			"How a pixel weighs in a field (zonal_statistics): `fraction` (the default) by the exact share of its area inside the field, `center` 1 when its centre is inside (openEO's rule), `all_touched` 1 when the field touches it (GDAL's ALL_TOUCHED)",
		example: "fraction",
	}),
	percentiles: z
		.array(z.number().min(0).max(100))
		.min(1)
		.max(20)
		.optional()
		.openapi({
			description:
				"Percentiles per field (zonal_statistics), weighted by coverage: the smallest value whose cumulative weight reaches q/100 of the total. Default [2, 50, 98]",
			example: [2, 50, 98],
		}),
	min_valid_fraction: z.number().min(0).max(1).optional().openapi({
		description:
			"A field (on a date) whose valid share of its covered area is below this keeps its counts and gets null statistics (zonal_statistics), so cloudy dates do not pollute a series. Default 0",
		example: 0.5,
	}),
	dates: z
		.array(DateSchema)
		.min(1)
		.max(MAX_DATES)
		.optional()
		.openapi({
			description: `A time series instead of \`inputs\` (zonal_statistics): up to ${MAX_DATES} dates, each another scene (any grid or CRS), with its own inputs and mask`,
		}),
	stac_search: StacSearchSchema.optional(),
};

/** The fields a request of this process takes besides every job's. */
const ZONAL_FIELDS = new Set(["zones", "coverage", "percentiles", "min_valid_fraction", "dates", "stac_search"]);
/** Fields of the index process that mean nothing per field. */
const INDEX_ONLY_FIELDS = ["histogram", "output", "grid", "aoi"] as const;

/** The zonal fields a request of another process gives by mistake. */
export function zonalFieldsGiven(request: Record<string, unknown>): { path: (string | number)[]; message: string }[] {
	return [...ZONAL_FIELDS]
		.filter((field) => request[field] !== undefined)
		.map((field) => ({ path: [field], message: "is for jobs of process zonal_statistics" }));
}

/**
 * Field problems of a zonal request that the fields alone cannot show: zones given, index or
 * expression (not both), inputs or dates (not both), masks naming their inputs, percentiles
 * unique, and no field of the index process's raster output.
 */
export function zonalRequestIssues(request: {
	index?: string | undefined;
	expression?: string | undefined;
	inputs?: Record<string, unknown> | undefined;
	mask?: { input: string } | undefined;
	zones?: unknown;
	percentiles?: number[] | undefined;
	dates?:
		| { datetime?: string | undefined; inputs: Record<string, unknown>; mask?: { input: string } | undefined }[]
		| undefined;
	[field: string]: unknown;
}): { path: (string | number)[]; message: string }[] {
	const issues: { path: (string | number)[]; message: string }[] = [];
	if (request.zones === undefined)
		issues.push({ path: ["zones"], message: "give the fields: a field_set_id or a FeatureCollection" });
	if ((request.index === undefined) === (request.expression === undefined)) {
		issues.push({
			path: [request.index === undefined ? "index" : "expression"],
			message: request.index === undefined ? "give index or expression" : "give index or expression, not both",
		});
	}
	if ((request.inputs === undefined) === (request.dates === undefined)) {
		issues.push({
			path: [request.inputs === undefined ? "inputs" : "dates"],
			message:
				request.inputs === undefined
					? "give inputs (or a stac_item), or dates or a stac_search for a time series"
					: "give inputs or dates, not both",
		});
	}
	if (request.dates && request.datetime !== undefined) {
		issues.push({ path: ["datetime"], message: "a time series gives each date its datetime (dates[].datetime)" });
	}
	if (request.dates && request.mask) {
		issues.push({ path: ["mask"], message: "a time series gives each date its own mask (dates[].mask)" });
	}
	const maskIssue = (
		inputs: Record<string, unknown>,
		mask: { input: string } | undefined,
		path: (string | number)[],
	) => {
		if (mask && !Object.hasOwn(inputs, mask.input)) {
			const names = Object.keys(inputs).join(", ");
			issues.push({ path: [...path, "mask", "input"], message: `names no input (the inputs are ${names})` });
		}
	};
	if (request.inputs) maskIssue(request.inputs, request.mask, []);
	request.dates?.forEach((date, i) => {
		maskIssue(date.inputs, date.mask, ["dates", i]);
	});
	const firstAt = new Map<string, number>();
	request.dates?.forEach((date, i) => {
		// A date of a STAC item takes the item's datetime, which ingest checks.
		if (date.datetime === undefined) return;
		const instant = new Date(date.datetime).toISOString();
		const first = firstAt.get(instant);
		if (first === undefined) firstAt.set(instant, i);
		else
			issues.push({
				path: ["dates", i, "datetime"],
				message: `is the datetime of dates[${first}] too; a series has one entry per date`,
			});
	});
	if (request.percentiles && new Set(request.percentiles).size !== request.percentiles.length) {
		issues.push({ path: ["percentiles"], message: "must not repeat a percentile" });
	}
	for (const field of INDEX_ONLY_FIELDS) {
		if (request[field] !== undefined) {
			issues.push({ path: [field], message: "is for jobs of process index (zonal_statistics writes no raster)" });
		}
	}
	return issues;
}

/** The request's dates as the pipeline reads them: one, undated, for a job of `inputs`. */
export interface ZonalDate {
	datetime: string | null;
	/** The date's input names, each with the name of the job input it reads. */
	inputs: Record<string, string>;
	mask: JobRequest["mask"];
	/** The footprint of the STAC item it reads, when its acquisition spans several items (each a date). */
	footprint: [number, number, number, number] | null;
}

/** Where date `d`'s fields stand in the request, as a path's prefix: `dates[d].`, or nothing without dates. */
export function datePath(request: JobRequest, d: number): string {
	return request.dates ? `dates[${d}].` : "";
}

/** The request's dates, each with its inputs' names among the job's (see datedInputName). */
export function zonalDates(request: JobRequest): ZonalDate[] {
	const same = (names: string[]) => Object.fromEntries(names.map((name) => [name, name]));
	if (!request.dates)
		return [{ datetime: null, inputs: same(Object.keys(request.inputs)), mask: request.mask, footprint: null }];
	return request.dates.map((date, i) => ({
		datetime: date.datetime,
		inputs: Object.fromEntries(Object.keys(date.inputs).map((name) => [name, datedInputName(i, name)])),
		mask: date.mask,
		footprint: date.footprint ?? null,
	}));
}

/** An ApiError's field paths moved under `prefix` (a date's). */
function under(prefix: string, error: ApiError): ApiError {
	const errors: FieldError[] | undefined = error.errors?.map((entry) => ({
		...entry,
		path: `${prefix}.${entry.path}`,
	}));
	return new ApiError(error.code, `${prefix}: ${error.message}`, { errors, headers: error.headers });
}

/**
 * The formula compiled against every date's inputs (a 422 naming the date at fault), stored as
 * the first date's; and the job's index id.
 */
export function prepareZonalJob(request: JobRequest): { indexId: string; formula: CompiledFormula } {
	const formulaOf = (inputs: Record<string, unknown>, mask: JobRequest["mask"]) =>
		compileFormula({
			index: request.index,
			expression: request.expression,
			constants: request.constants,
			inputs,
			mask,
		});
	let formula: CompiledFormula | undefined;
	if (!request.dates) formula = formulaOf(request.inputs, request.mask);
	else {
		request.dates.forEach((date, i) => {
			try {
				const compiled = formulaOf(date.inputs, date.mask);
				formula ??= compiled;
			} catch (error) {
				throw error instanceof ApiError ? under(`dates[${i}]`, error) : error;
			}
		});
	}
	if (!formula) throw new Error("a zonal request has neither inputs nor dates");
	return { indexId: formula.index ?? EXPRESSION_INDEX, formula };
}
