import { describe, expect, it } from "vitest";
import { acquisitions } from "../../src/stac/search";
import type { SourceItem } from "../../src/stac/source-item";

function item(id: string, url: string, datetime: string, collection: string | null = "sentinel-2-l2a"): SourceItem {
	return { url, id, collection, datetime, bbox: null, assets: [], assetKeys: [] };
}

describe("acquisitions", () => {
	const page = "https://stac.test/api/search";

	it("keeps neighbouring tiles that share their page's URL (items without a self link)", () => {
		const groups = acquisitions([
			item("S2A_33UWP_20260519_1_L2A", page, "2026-05-19T10:20:29Z"),
			item("S2A_33UXP_20260519_0_L2A", page, "2026-05-19T10:20:29Z"),
		]);
		expect(groups.map((group) => group.items.map((i) => i.id))).toEqual([
			["S2A_33UWP_20260519_1_L2A", "S2A_33UXP_20260519_0_L2A"],
		]);
	});

	it("uses an item that several pages list once, however its instant is written", () => {
		const groups = acquisitions([
			item("S2A_33UWP_20260519_1_L2A", page, "2026-05-19T10:20:29Z"),
			item("S2A_33UWP_20260519_1_L2A", `${page}?page=2`, "2026-05-19T12:20:29+02:00"),
			item("S2A_33UWP_20260519_1_L2A", page, "2026-05-19T10:20:29Z", "sentinel-2-c1-l2a"),
		]);
		expect(groups).toHaveLength(1);
		expect(groups[0]?.items.map((i) => i.collection)).toEqual(["sentinel-2-l2a", "sentinel-2-c1-l2a"]);
	});

	it("tells items without an id apart by their URL", () => {
		const groups = acquisitions([
			item("", `${page}#a`, "2026-05-19T10:20:29Z"),
			item("", `${page}#a`, "2026-05-19T10:20:29Z"),
			item("", `${page}#b`, "2026-05-19T10:20:29Z"),
		]);
		expect(groups[0]?.items).toHaveLength(2);
	});
});
