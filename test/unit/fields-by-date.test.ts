import { describe, expect, it } from "vitest";
import type { FieldFeature } from "../../src/fields/collection";
import { fieldsByDate } from "../../src/processes/zonal/plan";
import type { ZonalDate } from "../../src/processes/zonal/request";

/** A square field of `size` degrees whose south-west corner is (lon, lat). */
function field(id: string, lon: number, lat: number, size = 0.01): FieldFeature {
	const ring: [number, number][] = [
		[lon, lat],
		[lon + size, lat],
		[lon + size, lat + size],
		[lon, lat + size],
		[lon, lat],
	];
	return { id, polygons: [[ring]], geometry: { type: "Polygon", coordinates: [ring] }, properties: null };
}

function date(datetime: string, footprint: [number, number, number, number] | null): ZonalDate {
	return { datetime, inputs: {}, mask: undefined, footprint };
}

describe("fieldsByDate", () => {
	const west: [number, number, number, number] = [16, 47, 16.5, 48];
	const east: [number, number, number, number] = [16.5, 47, 17, 48];
	const fields = [
		field("in-west", 16.1, 47.5),
		field("in-east", 16.7, 47.5),
		field("mostly-east", 16.498, 47.5),
		field("in-neither", 18, 47.5),
	];

	it("weighs each field of a tiled acquisition on exactly one tile: the one holding it, else the one sharing most of it, else the first", () => {
		const chosen = fieldsByDate([date("2026-05-19T10:20:29Z", west), date("2026-05-19T10:20:29Z", east)], fields);
		expect(chosen.map((set) => [...(set ?? [])].sort())).toEqual([
			[0, 3],
			[1, 2],
		]);
	});

	it("leaves a date of one item to weigh every field, beside a tiled acquisition", () => {
		const chosen = fieldsByDate(
			[date("2026-05-04T10:20:31Z", null), date("2026-05-19T10:20:29Z", west), date("2026-05-19T10:20:29.000Z", east)],
			fields,
		);
		expect(chosen[0]).toBeNull();
		expect([...(chosen[1] ?? []), ...(chosen[2] ?? [])].sort()).toEqual([0, 1, 2, 3]);
	});
});
