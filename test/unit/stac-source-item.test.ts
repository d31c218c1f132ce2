import { describe, expect, it } from "vitest";
import { parseItem, resolveAsset, type SourceItem } from "../../src/stac/source-item";

const URL_OF_ITEM = "https://stac.test/collections/s2/items/one";

function item(assets: Record<string, unknown>): unknown {
	return { type: "Feature", id: "one", properties: { datetime: "2026-05-19T10:20:29Z" }, assets };
}

const cog = "image/tiff; application=geotiff; profile=cloud-optimized";

describe("parseItem", () => {
	const document = item({
		red: {
			href: "red.tif",
			type: cog,
			description: "x".repeat(100_000),
			bands: [{ "eo:common_name": "red", scale: 0.0001, offset: -0.1, nodata: 0, statistics: { mean: 1 } }],
		},
		scl: { href: "scl.tif", type: cog },
		thumbnail: { href: "thumb.png", type: "image/png", bands: Array.from({ length: 5000 }, () => ({})) },
	});

	it("keeps only the assets a resolution can match, and of each only what inputs read", () => {
		const parsed = parseItem(document, URL_OF_ITEM, "stac_item", {
			names: new Set(["red"]),
			keys: new Set(["scl"]),
		}) as SourceItem;
		expect(parsed.assets.map((asset) => asset.key)).toEqual(["red", "scl"]);
		expect(parsed.assetKeys).toEqual(["red", "scl", "thumbnail"]);
		expect(parsed.assets[0]).toEqual({
			key: "red",
			href: "https://stac.test/collections/s2/items/red.tif",
			type: cog,
			unreadable: null,
			bands: [{ commonName: "red", scale: 0.0001, offset: -0.1, nodata: 0 }],
		});
	});

	it("keeps of a wanted asset only the common names asked for", () => {
		const bands = [{ "eo:common_name": "nir" }, { "eo:common_name": "red" }, { "eo:common_name": "x".repeat(200) }];
		const parsed = parseItem(item({ multi: { href: "m.tif", bands } }), URL_OF_ITEM, "stac_item", {
			names: new Set(["red"]),
			keys: new Set(),
		}) as SourceItem;
		expect(parsed.assets[0]?.bands.map((band) => band.commonName)).toEqual([null, "red", null]);
		expect(resolveAsset(parsed, { asset: undefined, name: "red" }, "stac_item")).toMatchObject({ band: 2 });
	});

	it("reads at most 1024 bands of an asset, and lists the item's keys when an asset is missing", () => {
		const parsed = parseItem(document, URL_OF_ITEM, "stac_item") as SourceItem;
		expect(parsed.assets.find((asset) => asset.key === "thumbnail")?.bands).toHaveLength(1024);
		const missing = resolveAsset(parsed, { asset: "swir22", name: "swir22" }, "inputs.swir22.asset");
		expect(missing).toMatchObject({ message: expect.stringContaining("(its assets: red, scl, thumbnail)") });
	});

	it("refuses an href longer than remote hrefs may be, saying so", () => {
		const long = parseItem(item({ red: { href: `https://cogs.test/${"a".repeat(3000)}.tif` } }), URL_OF_ITEM, "s");
		const refused = resolveAsset(long as SourceItem, { asset: "red", name: "red" }, "inputs.red.asset");
		expect(refused).toMatchObject({ message: expect.stringContaining("longer than 2048 characters") });
	});
});
