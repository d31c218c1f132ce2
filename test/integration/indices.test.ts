/** The catalog over HTTP: the listing, its filters, and one index by id. */
import { describe, expect, it } from "vitest";
import catalog from "../../src/indices/catalog/spectral-indices-dict.json";
import { api, expectProblem, json } from "../helpers";

interface IndexBody {
	id: string;
	name: string;
	formula: string;
	bands: string[];
	constants: { name: string; default: number | null; description: string }[];
	domain: string;
	reference: string;
	platforms: string[];
}

const entries = Object.values(catalog.SpectralIndices);

async function list(query = ""): Promise<IndexBody[]> {
	const response = await api(`/v1/indices${query}`);
	expect(response.status).toBe(200);
	return (await json<{ indices: IndexBody[] }>(response)).indices;
}

describe("GET /v1/indices", () => {
	it("lists every catalog index with its bands as STAC common names and its constants", async () => {
		const indices = await list();
		expect(indices.map((index) => index.id).sort()).toEqual(entries.map((entry) => entry.short_name).sort());
		const evi = indices.find((index) => index.id === "EVI");
		expect(evi).toMatchObject({
			name: "Enhanced Vegetation Index",
			formula: "g * (nir - red) / (nir + C1 * red - C2 * blue + L)",
			bands: ["nir", "red", "blue"],
			domain: "vegetation",
			reference: "https://doi.org/10.1016/S0034-4257(96)00112-5",
		});
		expect(evi?.constants.map(({ name, default: value }) => [name, value])).toEqual([
			["g", 2.5],
			["C1", 6],
			["C2", 7.5],
			["L", 1],
		]);
		const ndmi = indices.find((index) => index.id === "NDMI");
		expect(ndmi?.bands).toEqual(["nir", "swir16"]);
		const vvvhr = indices.find((index) => index.id === "VVVHR");
		expect(vvvhr?.bands).toEqual(["vv", "vh"]);
	});

	it("filters by domain, by band and by text, and combines the filters", async () => {
		const water = await list("?domain=water");
		expect(water.length).toBe(entries.filter((entry) => entry.application_domain === "water").length);
		expect(water.every((index) => index.domain === "water")).toBe(true);

		const swir = await list("?band=swir16");
		expect(swir.length).toBe(entries.filter((entry) => entry.bands.includes("S1")).length);
		expect(swir.every((index) => index.bands.includes("swir16"))).toBe(true);

		const burn = await list("?q=BURN");
		expect(burn.map((index) => index.id)).toContain("NBR");
		expect(burn.every((index) => `${index.id} ${index.name} ${index.formula}`.toLowerCase().includes("burn"))).toBe(
			true,
		);

		const both = await list("?domain=burn&band=swir22");
		expect(both.map((index) => index.id)).toContain("NBR");
		expect(both.every((index) => index.domain === "burn" && index.bands.includes("swir22"))).toBe(true);
		expect(await list("?q=no-such-text")).toEqual([]);
	});

	it("answers 422 for a domain or band the catalog does not have", async () => {
		const domain = await expectProblem(await api("/v1/indices?domain=forestry"), 422, "validation-failed");
		expect(domain.errors?.map((error) => error.path)).toEqual(["query.domain"]);
		const band = await expectProblem(await api("/v1/indices?band=N"), 422, "validation-failed");
		expect(band.errors?.map((error) => error.path)).toEqual(["query.band"]);
	});
});

describe("GET /v1/indices/{id}", () => {
	it("returns one index, its id matched case-insensitively", async () => {
		const savi = await json<IndexBody>(await api("/v1/indices/savi"));
		expect(savi.id).toBe("SAVI");
		expect(savi.constants).toEqual([{ name: "L", default: 1, description: "Canopy background adjustment" }]);
		expect(await json<IndexBody>(await api("/v1/indices/SAVI"))).toEqual(savi);
	});

	it("answers 404 for an unknown id and for one that fits two ids ignoring case", async () => {
		await expectProblem(await api("/v1/indices/NOPE"), 404, "not-found");
		const ambiguous = await expectProblem(await api("/v1/indices/msr705"), 404, "not-found");
		expect(ambiguous.detail).toContain("mSR705 and MSR705");
		const exact = await json<IndexBody>(await api("/v1/indices/mSR705"));
		expect(exact.name).toBe("Modified Simple Ratio (705 and 445 nm)");
	});
});
