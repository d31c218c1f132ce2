/**
 * The colormaps preview.png can be drawn with: each is a list of evenly spaced colour stops
 * (ColorBrewer's 11-class RdYlGn and RdBu, matplotlib's viridis and Greys), expanded into a
 * 256-entry table by linear interpolation. The API's list of names is this registry's keys.
 */

const stops = {
	rdylgn: [
		"a50026",
		"d73027",
		"f46d43",
		"fdae61",
		"fee08b",
		"ffffbf",
		"d9ef8b",
		"a6d96a",
		"66bd63",
		"1a9850",
		"006837",
	],
	rdbu: ["67001f", "b2182b", "d6604d", "f4a582", "fddbc7", "f7f7f7", "d1e5f0", "92c5de", "4393c3", "2166ac", "053061"],
	viridis: ["440154", "482878", "3e4989", "31688e", "26828e", "1f9e89", "35b779", "6ece58", "b5de2b", "fde725"],
	greys: ["ffffff", "000000"],
} as const satisfies Record<string, readonly string[]>;

export type ColormapName = keyof typeof stops;

export const colormapNames = Object.keys(stops) as [ColormapName, ...ColormapName[]];

/** Entries of a colour table: value 0 maps to the first stop, 255 to the last. */
export const COLORMAP_ENTRIES = 256;

const tables = new Map<ColormapName, Uint8Array>();

/** The colormap as 256 RGB triples. */
export function colormapTable(name: ColormapName): Uint8Array {
	const cached = tables.get(name);
	if (cached) return cached;
	const rgb = stops[name].map((hex) => [0, 2, 4].map((at) => Number.parseInt(hex.slice(at, at + 2), 16)));
	const table = new Uint8Array(COLORMAP_ENTRIES * 3);
	for (let entry = 0; entry < COLORMAP_ENTRIES; entry++) {
		const position = (entry / (COLORMAP_ENTRIES - 1)) * (rgb.length - 1);
		const lower = Math.min(Math.floor(position), rgb.length - 2);
		const weight = position - lower;
		for (let channel = 0; channel < 3; channel++) {
			const from = rgb[lower]?.[channel] ?? 0;
			const to = rgb[lower + 1]?.[channel] ?? 0;
			table[entry * 3 + channel] = Math.round(from + (to - from) * weight);
		}
	}
	tables.set(name, table);
	return table;
}
