/**
 * The indices EO Edge computes: the whole Awesome Spectral Indices catalog (catalog/, MIT,
 * see catalog/README.md), read as data. Adding an index is adding an entry to the catalog
 * file; the API listing, request checks, compilation and statistics all read from here.
 *
 * The catalog writes formulas over band symbols (N, R, S1, …) and constants (L, g, …). Here
 * every band symbol becomes its STAC common name from the catalog's bands.json (N → nir,
 * S1 → swir16), so a formula reads as the job's inputs are named.
 */
import { type FormulaNode, parseFormula } from "../formula/parse";
import type { ColormapName } from "../preview/colormaps";
import catalogBands from "./catalog/bands.json";
import catalogConstants from "./catalog/constants.json";
import catalog from "./catalog/spectral-indices-dict.json";

export interface IndexConstant {
	name: string;
	/** null when the catalog gives no default: a job must set it. */
	default: number | null;
	description: string;
}

export interface IndexDefinition {
	/** The catalog's short name, e.g. NDVI, EVI, kNDVI. */
	id: string;
	name: string;
	/** The formula over STAC common names and the catalog's constant names. */
	formula: string;
	/** The input bands the formula reads, as STAC common names, in catalog order. */
	bands: readonly string[];
	constants: readonly IndexConstant[];
	domain: string;
	reference: string;
	platforms: readonly string[];
	/** `formula`, parsed. */
	ast: FormulaNode;
	/** preview.png's colormap unless the request names another. */
	colormap: ColormapName;
}

/** Water reads blue, vegetation red to green; every other domain gets a neutral ramp. */
export function defaultColormap(domain: string | null): ColormapName {
	if (domain === "water") return "rdbu";
	if (domain === "vegetation") return "rdylgn";
	return "viridis";
}

/**
 * SAR polarisations are bands of the catalog that bands.json does not list; inputs name them
 * in lower case, as Sentinel-1 STAC items name their assets.
 */
const radarBands: Record<string, string> = { VV: "vv", VH: "vh", HH: "hh", HV: "hv" };

const bandCommonNames: Record<string, string> = {
	...Object.fromEntries(Object.entries(catalogBands).map(([symbol, band]) => [symbol, band.common_name])),
	...radarBands,
};

/** Every input band name an index can use. */
export const bandNames: readonly string[] = [...new Set(Object.values(bandCommonNames))];

/** The common name of a catalog band symbol (R → red, S1 → swir16), which inputs must use. */
export function bandNameOfSymbol(symbol: string): string | undefined {
	return Object.hasOwn(bandCommonNames, symbol) ? bandCommonNames[symbol] : undefined;
}

const constants: Record<string, IndexConstant> = Object.fromEntries(
	Object.entries(catalogConstants).map(([name, constant]) => [
		name,
		{ name, default: constant.default, description: constant.description },
	]),
);

/**
 * The catalog's kernel indices (kNDVI, kEVI, …) use symbols kXY for a kernel of X and Y. The
 * catalog leaves the kernel to the user; EO Edge uses the RBF kernel of the kNDVI paper,
 * k(a, b) = exp(-(a - b)² / (2σ²)), with σ the catalog's `sigma` constant.
 */
const KERNEL_SYMBOL = /^k([A-Z][a-z0-9]*)([A-Z][a-z0-9]*)$/;
function kernelTerms(symbol: string): [string, string] | null {
	const match = KERNEL_SYMBOL.exec(symbol);
	if (!match) return null;
	const [, a = "", b = ""] = match;
	const known = (name: string) => name in bandCommonNames || name in constants;
	return known(a) && known(b) ? [a, b] : null;
}

/** Rewrites every name token of a catalog formula; numbers are matched first so 1e5 stays whole. */
function renameSymbols(formula: string, rename: (symbol: string) => string): string {
	return formula.replace(/(\d+\.?\d*(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)/g, (token, number, name) =>
		number ? token : rename(name),
	);
}

function define(entry: (typeof catalog.SpectralIndices)[keyof typeof catalog.SpectralIndices]): IndexDefinition {
	const symbols = entry.bands.flatMap((symbol) => kernelTerms(symbol) ?? [symbol]);
	const unknown = symbols.filter((symbol) => !(symbol in bandCommonNames) && !(symbol in constants));
	if (unknown.length > 0) throw new Error(`catalog index ${entry.short_name} uses unknown symbols ${unknown}`);
	const usesKernel = entry.bands.some((symbol) => kernelTerms(symbol) !== null);
	const constantNames = [
		...new Set([...symbols.filter((symbol) => symbol in constants), ...(usesKernel ? ["sigma"] : [])]),
	];
	const nameOf = (symbol: string): string => bandCommonNames[symbol] ?? symbol;
	const formula = renameSymbols(entry.formula, (symbol) => {
		const kernel = kernelTerms(symbol);
		if (!kernel) return nameOf(symbol);
		const [a, b] = kernel.map(nameOf) as [string, string];
		return `exp(-((${a} - ${b}) ** 2) / (2 * sigma ** 2))`;
	});
	return {
		id: entry.short_name,
		name: entry.long_name,
		formula,
		bands: [...new Set(symbols.filter((symbol) => symbol in bandCommonNames).map(nameOf))],
		constants: constantNames.map((name) => constants[name] as IndexConstant),
		domain: entry.application_domain,
		reference: entry.reference,
		platforms: entry.platforms,
		ast: parseFormula(formula),
		colormap: defaultColormap(entry.application_domain),
	};
}

const definitions = Object.values(catalog.SpectralIndices)
	.map(define)
	.sort((a, b) => a.id.localeCompare(b.id, "en"));

export const indices: ReadonlyMap<string, IndexDefinition> = new Map(
	definitions.map((definition) => [definition.id, definition]),
);

/** What a job of a custom expression reports as its `index`; no catalog id may be spelt so. */
export const EXPRESSION_INDEX = "expression";
if (definitions.some((definition) => definition.id.toLowerCase() === EXPRESSION_INDEX)) {
	throw new Error(`the catalog has an index named ${EXPRESSION_INDEX}, which names custom expressions here`);
}

/** The application domains of the catalog (vegetation, water, burn, …). */
export const indexDomains: readonly string[] = [...new Set(definitions.map((definition) => definition.domain))].sort();

/** Every id the request names, ignoring case: BAI and BaI are different catalog indices. */
export function matchingIndexIds(id: string): string[] {
	if (indices.has(id)) return [id];
	const lower = id.toLowerCase();
	return definitions.filter((definition) => definition.id.toLowerCase() === lower).map((definition) => definition.id);
}

/**
 * Index ids are matched case-insensitively (`ndvi` and `NDVI` name the same index); an exact
 * match wins, and a name that fits several ids ignoring case (`bai`: BAI, BaI) fits none.
 */
/** preview.png's default colormap for a job: its index's, or a neutral ramp for an expression. */
export function colormapOf(indexId: string | null): ColormapName {
	return (indexId === null ? undefined : indices.get(indexId)?.colormap) ?? defaultColormap(null);
}

export function findIndex(id: string): IndexDefinition | undefined {
	const [only, ...others] = matchingIndexIds(id);
	return only !== undefined && others.length === 0 ? indices.get(only) : undefined;
}
