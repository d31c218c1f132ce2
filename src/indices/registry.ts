/**
 * The indices EO Edge computes. Adding an index is one entry here: the API listing, request
 * checks, the compute kernel choice and the statistics histogram all read from this registry.
 */
import type { ColormapName } from "../preview/colormaps";
import type { HistogramSpec } from "../wasm/kernels";

/** STAC `eo:common_name` band names an index can ask for. */
export const bandNames = [
	"coastal",
	"blue",
	"green",
	"red",
	"rededge",
	"yellow",
	"pan",
	"nir",
	"nir08",
	"nir09",
	"cirrus",
	"swir16",
	"swir22",
	"lwir",
	"lwir11",
	"lwir12",
] as const;

export type BandName = (typeof bandNames)[number];

export interface IndexDefinition {
	id: string;
	name: string;
	formula: string;
	/** Input bands, in the order the kernel takes them. */
	bands: readonly BandName[];
	/** Normalized difference of the first band against the second. */
	kernel: "normalized_difference";
	domain: "vegetation" | "water";
	reference: string;
	/** The index's natural range, used for the statistics histogram and the preview's default rescale. */
	histogram: HistogramSpec;
	/** preview.png's colormap unless the request names another. */
	colormap: ColormapName;
}

const unitRange: HistogramSpec = { first: -1, last: 1, bins: 20 };

const definitions = [
	{
		id: "ndvi",
		name: "Normalized Difference Vegetation Index",
		formula: "(nir - red) / (nir + red)",
		bands: ["nir", "red"],
		kernel: "normalized_difference",
		domain: "vegetation",
		reference: "https://ntrs.nasa.gov/citations/19740022614",
		histogram: unitRange,
		colormap: "rdylgn",
	},
	{
		id: "ndwi",
		name: "Normalized Difference Water Index",
		formula: "(green - nir) / (green + nir)",
		bands: ["green", "nir"],
		kernel: "normalized_difference",
		domain: "water",
		reference: "https://doi.org/10.1080/01431169608948714",
		histogram: unitRange,
		colormap: "rdbu",
	},
] as const satisfies readonly IndexDefinition[];

export const indices: ReadonlyMap<string, IndexDefinition> = new Map(
	definitions.map((definition) => [definition.id, definition]),
);

export const indexIds = definitions.map((definition) => definition.id);

/** Index ids are matched case-insensitively: `NDVI` and `ndvi` name the same index. */
export function findIndex(id: string): IndexDefinition | undefined {
	return indices.get(id.toLowerCase());
}
