import { describe, expect, it } from "vitest";
import { convexHull } from "../../src/stac/item";

type Point = readonly [number, number];

/**
 * Andrew's monotone chain as first written, the points compared by their differences and each
 * half walked by iterating: what convexHull must return point for point, so that a zonal job's
 * STAC footprint stays byte for byte what it was.
 */
function referenceHull(points: readonly Point[]): [number, number][] {
	const sorted = points.toSorted((a, b) => a[0] - b[0] || a[1] - b[1]);
	const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
	const half = (ordered: readonly Point[]) => {
		const chain: Point[] = [];
		for (const point of ordered) {
			while (chain.length >= 2 && cross(chain.at(-2) ?? point, chain.at(-1) ?? point, point) <= 0) chain.pop();
			chain.push(point);
		}
		chain.pop();
		return chain;
	};
	return [...half(sorted), ...half(sorted.toReversed())].map(([lon, lat]) => [lon, lat]);
}

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
	let state = seed;
	return () => {
		state = (state + 0x6d2b79f5) | 0;
		let t = Math.imul(state ^ (state >>> 15), 1 | state);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

describe("convexHull", () => {
	it("returns the reference's points in its order, on random, tied, collinear and repeated points", () => {
		const next = random(14);
		for (let run = 0; run < 500; run++) {
			const count = Math.floor(next() * 40);
			// A coarse grid in half the runs: ties in longitude, repeats and collinear points.
			const grid = run % 2 === 0 ? 4 : 0;
			const coordinate = (scale: number) => (grid ? Math.floor(next() * grid) : (next() - 0.5) * scale);
			const points: Point[] = Array.from({ length: count }, () => [coordinate(360), coordinate(180)]);
			expect(convexHull(points)).toEqual(referenceHull(points));
		}
	});

	it("returns the reference's points for a thousand fields' positions, most of them inside the extremes", () => {
		const next = random(7);
		const points: Point[] = [];
		for (let field = 0; field < 1000; field++) {
			const [lon, lat] = [10 + next() * 0.2, 45 + next() * 0.2];
			const vertices = 10 + Math.floor(next() * 50);
			for (let v = 0; v < vertices; v++) {
				const angle = (v / vertices) * 2 * Math.PI;
				const radius = 0.002 * (0.5 + next());
				points.push([lon + radius * Math.cos(angle), lat + radius * Math.sin(angle)]);
			}
		}
		// A square's corners and points on its edges: extremes tied, edges of the quadrilateral collinear with points.
		points.push([9, 44], [11, 44], [11, 46], [9, 46], [10, 44], [11, 45], [10, 46], [9, 45]);
		expect(convexHull(points)).toEqual(referenceHull(points));
	});

	it("keeps -0 and 0 as equal longitudes, as the differences did", () => {
		const points: Point[] = [
			[0, 1],
			[-0, 0],
			[1, 0],
			[0, -1],
			[-0, 2],
		];
		expect(convexHull(points)).toEqual(referenceHull(points));
	});

	it("gives fewer than three points for points on one line or none", () => {
		expect(convexHull([])).toEqual([]);
		expect(convexHull([[1, 2]])).toEqual([]);
		expect(
			convexHull([
				[0, 0],
				[1, 1],
				[2, 2],
			]),
		).toEqual(
			referenceHull([
				[0, 0],
				[1, 1],
				[2, 2],
			]),
		);
	});
});
