/**
 * What POST /v1/jobs checks of a request's STAC sources without fetching anything: where each
 * STAC input finds its item, and which input names a job-level item (or search) supplies by
 * band common name without an `inputs` entry. The items themselves are read by ingest
 * (./resolve.ts).
 */
import type { JobInputSource, JobRequest } from "../db/jobs";
import { FormulaError, formulaVariables, parseFormula } from "../formula/parse";
import { findIndex } from "../indices/registry";

interface StacRequestView {
	index?: string | undefined;
	expression?: string | undefined;
	constants?: Record<string, number> | undefined;
	mask?: { input: string } | undefined;
	stac_item?: string | undefined;
	stac_search?: unknown;
	inputs?: Record<string, JobInputSource> | undefined;
	dates?:
		| {
				datetime?: string | undefined;
				stac_item?: string | undefined;
				inputs?: Record<string, JobInputSource> | undefined;
				mask?: { input: string } | undefined;
		  }[]
		| undefined;
}

/** The request names a STAC item or search anywhere. */
export function usesStac(request: StacRequestView): boolean {
	const anyInput = (inputs: Record<string, JobInputSource> | undefined) =>
		Object.values(inputs ?? {}).some((input) => input.stac_item !== undefined || input.asset !== undefined);
	return (
		request.stac_item !== undefined ||
		request.stac_search !== undefined ||
		anyInput(request.inputs) ||
		(request.dates ?? []).some((date) => date.stac_item !== undefined || anyInput(date.inputs))
	);
}

/**
 * The names the formula reads (a catalog index's bands, an expression's variables that are not
 * constants) and the mask's input: what an item supplies by common name or asset key. A formula
 * that does not parse supplies none; compiling it reports why.
 */
export function impliedInputNames(request: StacRequestView, mask: { input: string } | undefined): string[] {
	let names: string[] = [];
	if (request.index !== undefined) names = [...(findIndex(request.index)?.bands ?? [])];
	else if (request.expression !== undefined) {
		try {
			const constants = request.constants ?? {};
			names = formulaVariables(parseFormula(request.expression))
				.map(({ name }) => name)
				.filter((name) => !Object.hasOwn(constants, name));
		} catch (error) {
			if (!(error instanceof FormulaError)) throw error;
		}
	}
	return mask && !names.includes(mask.input) ? [...names, mask.input] : names;
}

/** `inputs` with an entry (read by common name or key) for every implied name it lacks. */
function withImplied(
	request: StacRequestView,
	inputs: Record<string, JobInputSource> | undefined,
	mask: { input: string } | undefined,
): Record<string, JobInputSource> {
	const all = { ...(inputs ?? {}) };
	for (const name of impliedInputNames(request, mask)) all[name] ??= {};
	return all;
}

/**
 * The request's inputs and dates with the names an item supplies: the job's when it names a
 * stac_item or stac_search, each date's that names a stac_item. Other places are left as given.
 */
export function effectiveSources(request: StacRequestView): {
	inputs: Record<string, JobInputSource> | undefined;
	dates: NonNullable<NonNullable<JobRequest["stac"]>["dates"]> | undefined;
} {
	const jobLevel = request.stac_item !== undefined || request.stac_search !== undefined;
	return {
		inputs: jobLevel ? withImplied(request, request.inputs, request.mask) : request.inputs,
		dates: request.dates?.map((date) => ({
			...date,
			inputs: date.stac_item !== undefined ? withImplied(request, date.inputs, date.mask) : (date.inputs ?? {}),
		})),
	};
}

/** Where a request puts its STAC sources wrongly, as zod issues: no fetch needed to tell. */
export function stacPlacementIssues(request: StacRequestView): { path: (string | number)[]; message: string }[] {
	const issues: { path: (string | number)[]; message: string }[] = [];
	const jobItem = request.stac_item !== undefined || request.stac_search !== undefined;
	const orphanAssets = (
		inputs: Record<string, JobInputSource> | undefined,
		hasItem: boolean,
		path: (string | number)[],
		where: string,
	) => {
		if (hasItem) return;
		for (const [name, input] of Object.entries(inputs ?? {})) {
			if (input.asset !== undefined && input.stac_item === undefined) {
				issues.push({
					path: [...path, "inputs", name, "asset"],
					message: `names an asset but no STAC item: give its stac_item, or ${where}`,
				});
			}
		}
	};
	orphanAssets(request.inputs, jobItem, [], "the job's stac_item");
	if (request.stac_item !== undefined && request.stac_search !== undefined) {
		issues.push({ path: ["stac_search"], message: "give stac_item or stac_search, not both" });
	}
	if (request.dates && jobItem) {
		issues.push({
			path: [request.stac_item !== undefined ? "stac_item" : "stac_search"],
			message: "a time series given as dates names each date's stac_item (dates[].stac_item)",
		});
	}
	request.dates?.forEach((date, i) => {
		orphanAssets(date.inputs, date.stac_item !== undefined, ["dates", i], "the date's stac_item");
		if (date.datetime === undefined && date.stac_item === undefined) {
			issues.push({
				path: ["dates", i, "datetime"],
				message: "give the date's datetime, or its stac_item to take the item's",
			});
		}
		if (date.inputs === undefined && date.stac_item === undefined) {
			issues.push({ path: ["dates", i, "inputs"], message: "give the date's inputs, or its stac_item" });
		}
	});
	return issues;
}
