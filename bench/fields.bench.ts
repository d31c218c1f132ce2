/**
 * bench:fields — zonal statistics of a portfolio of fields on the bench:scene pair (a 10980 x
 * 10980 UInt16 red/NIR pair of tiled Deflate COGs, see bench/node-pipeline.ts): 1000 fields of
 * 1 to 50 ha, random star-shaped polygons of 10 to 60 vertices, (a) clustered in a 20 x 20 km
 * farming region, as a farm's or an insurer's portfolio is, and (b) spread over the whole scene;
 * each as one date and as a time series of 10 dates (the same pair, dated ten times).
 *
 * Each job (a stored field set, NDVI, `coverage: fraction`) runs under Node through the
 * dispatcher, one message at a time as the consumers take them, every invocation measured as
 * bench:scene measures them (CPU less the R2 and D1 stand-ins', peak memory). Per scenario it
 * prints:
 * - field-dates per CPU-second: fields x dates over the CPU of all the job's invocations;
 * - the decode floor: the CPU of decoding once each the tiles some field touches (a pixel of
 *   positive weight), in both bands, with the pipeline's own reader (src/raster/read.ts), measured
 *   in the same run, twice per layout (the lesser kept) and counted once per date;
 * - bytes read (what the R2 stand-in served from the inputs during the job) against the stored
 *   bytes of those tiles (from the TIFF structure), per date;
 * - the compute windows, and the slowest invocation's CPU and the largest peak memory against
 *   the budgets: 30 s of CPU, and a heavy message's 64 MiB of the isolate's 128 MB less the Wasm
 *   instances kept between messages, which are in the level it is measured above: that is
 *   STRIP_BUDGET_BYTES (src/isolate-memory.ts).
 * Goals (issue 14): clustered, at least 2000 field-dates per CPU-second; spread, CPU at most
 * 1.3x the decode floor; bytes read at most 1.2x the touched tiles; every invocation within its
 * budget.
 *
 * Usage: npm run bench:fields [-- [--only=clustered|spread[:1|10]] [red.tif nir.tif]]. Results also go to artifacts/bench-fields/report.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import proj4 from "proj4";
import { type FieldSetRecord, insertFieldSetWithinQuota } from "../src/db/field-sets";
import { getJob, type JobRequest } from "../src/db/jobs";
import { ApiError } from "../src/errors/api-error";
import { checkFieldCollection } from "../src/fields/collection";
import { jobPlan } from "../src/pipeline/plan";
import { pipelineStages, type StageName, stageNames } from "../src/pipeline/stages";
import { prepareZonalJob } from "../src/processes/zonal/request";
import { pixelCoverage, polygonsInPixels } from "../src/raster/coverage";
import { epsgCodeOf, geotransformOf, readGeoReference } from "../src/raster/georeference";
import type { Grid } from "../src/raster/grid";
import { openRasterFile } from "../src/raster/inputs";
import { readWindow } from "../src/raster/read";
import { writeFieldCollection } from "../src/storage/field-collections";
import { objectKeys } from "../src/storage/keys";
import { seededRandom } from "../test/random";
import {
	CPU_LIMIT_MS,
	type Invocation,
	ISOLATE_MEMORY_BYTES,
	type JobMessage,
	measure,
	mib,
	type NodePipeline,
	ROOT,
	scenePair,
	seconds,
	slowestBy,
	startNodePipeline,
	vars,
} from "./node-pipeline";

const FIELDS = 1000;
const DATES = [1, 10];
const REGION_METRES = 20_000;
/** The clustered region's fields sit one to a cell of a square grid, jittered. */
const REGION_CELLS = 32;
const HEAVY_BUDGET_BYTES = Number(vars.STRIP_BUDGET_BYTES);
const GOALS = { clusteredFieldDatesPerCpuSecond: 2000, spreadCpuOverFloor: 1.3, bytesOverTouched: 1.2 };
const OUT = join(ROOT, "artifacts", "bench-fields");

type LayoutName = "clustered" | "spread";

interface Layout {
	name: LayoutName;
	collection: { type: "FeatureCollection"; features: unknown[] };
	vertices: number;
	hectares: number;
	/** Blocks (by index in a band's block grid) where some field gives a pixel a weight above 0. */
	touched: number[];
	/** Blocks some field's bounding box reaches, for comparison. */
	boxTouched: number;
}

// ---------------------------------------------------------------------------------------------
// The fields

/** The proj4 definition of a WGS 84 UTM zone by its EPSG code, the scene's CRS. */
function utmDefinition(code: number | null): string {
	if (code !== null && code >= 32601 && code <= 32660) return `+proj=utm +zone=${code - 32600} +datum=WGS84 +units=m`;
	if (code !== null && code >= 32701 && code <= 32760)
		return `+proj=utm +zone=${code - 32700} +south +datum=WGS84 +units=m`;
	throw new Error(`the scene's CRS (EPSG:${code}) is not a WGS 84 UTM zone`);
}

/**
 * A star-shaped ring of `vertices` around (cx, cy) in metres with an area of `hectares`: angles
 * in order, each jittered within its share of the turn (so no two coincide), radii from 0.75 to
 * 1.25 of the mean; sorted angles make it simple. Counter-clockwise, as RFC 7946 asks.
 */
function starRing(random: () => number, cx: number, cy: number, hectares: number, vertices: number): number[][] {
	const turn = random() * 2 * Math.PI;
	const angles = Array.from({ length: vertices }, (_, i) => turn + ((i + 0.8 * random()) * 2 * Math.PI) / vertices);
	const radii = angles.map(() => 0.75 + 0.5 * random());
	let unitArea = 0;
	for (let i = 0; i < vertices; i++) {
		const j = (i + 1) % vertices;
		unitArea +=
			0.5 *
			(radii[i] ?? 0) *
			(radii[j] ?? 0) *
			Math.sin((angles[j] ?? 0) - (angles[i] ?? 0) + (j === 0 ? 2 * Math.PI : 0));
	}
	const scale = Math.sqrt((hectares * 10_000) / unitArea);
	return angles.map((angle, i) => [
		cx + scale * (radii[i] ?? 0) * Math.cos(angle),
		cy + scale * (radii[i] ?? 0) * Math.sin(angle),
	]);
}

/** Where the layout's fields are centred, in the scene's CRS. */
function centres(name: LayoutName, random: () => number, grid: Grid): [number, number][] {
	const [originX, pixelWidth, , originY, , pixelHeight] = grid.geotransform;
	const sceneWidth = grid.width * pixelWidth;
	const sceneHeight = grid.height * -pixelHeight;
	if (name === "spread") {
		const margin = 1000;
		return Array.from({ length: FIELDS }, () => [
			originX + margin + random() * (sceneWidth - 2 * margin),
			originY - margin - random() * (sceneHeight - 2 * margin),
		]);
	}
	// A 20 x 20 km region somewhere inside the scene (not aligned to its tiles), FIELDS of its cells taken.
	const west = originX + 5000 + random() * (sceneWidth - REGION_METRES - 10_000);
	const north = originY - 5000 - random() * (sceneHeight - REGION_METRES - 10_000);
	const cell = REGION_METRES / REGION_CELLS;
	const cells = Array.from({ length: REGION_CELLS * REGION_CELLS }, (_, i) => i);
	for (let i = cells.length - 1; i > 0; i--) {
		const j = Math.floor(random() * (i + 1));
		[cells[i], cells[j]] = [cells[j] as number, cells[i] as number];
	}
	return cells.slice(0, FIELDS).map((index) => {
		const column = index % REGION_CELLS;
		const row = Math.floor(index / REGION_CELLS);
		return [west + (column + 0.5 + 0.2 * (random() - 0.5)) * cell, north - (row + 0.5 + 0.2 * (random() - 0.5)) * cell];
	});
}

/**
 * The layout's fields as a FeatureCollection in longitude/latitude (rounded to 1e-7 degrees,
 * about a centimetre), checked as POST /v1/fields checks it, and the blocks they touch.
 */
function layoutOf(name: LayoutName, grid: Grid, block: { width: number; height: number }): Layout {
	const random = seededRandom(name === "clustered" ? 14 : 41);
	const toLonLat = proj4(utmDefinition(epsgCodeOf(grid.crs)), "WGS84");
	let vertices = 0;
	let hectares = 0;
	const features = centres(name, random, grid).map(([cx, cy], i) => {
		const area = Math.exp(random() * Math.log(50));
		const count = 10 + Math.floor(random() * 51);
		const ring = starRing(random, cx, cy, area, count).map((point) =>
			toLonLat.forward(point).map((degrees) => Math.round(degrees * 1e7) / 1e7),
		);
		vertices += count + 1;
		hectares += area;
		return {
			type: "Feature",
			id: `${name}-${String(i).padStart(4, "0")}`,
			geometry: { type: "Polygon", coordinates: [[...ring, ring[0]]] },
			properties: { hectares: Math.round(area * 100) / 100 },
		};
	});
	const collection = { type: "FeatureCollection" as const, features };
	const checked = checkFieldCollection(collection, { maxFeatures: FIELDS, maxVertices: vertices });
	if (checked instanceof ApiError) throw new Error(`the ${name} fields do not pass the checks: ${checked.message}`);
	const across = Math.ceil(grid.width / block.width);
	const touched = new Set<number>();
	const boxes = new Set<number>();
	const raster = { rowStart: 0, rowEnd: grid.height, colStart: 0, colEnd: grid.width };
	for (const feature of checked.features) {
		const polygons = polygonsInPixels({ type: "MultiPolygon", coordinates: feature.polygons }, grid);
		const coverage = pixelCoverage(polygons, "fraction", raster);
		if (!coverage) continue;
		for (let row = 0; row < coverage.height; row++) {
			const by = Math.floor((coverage.rowStart + row) / block.height);
			for (let column = 0; column < coverage.width; column++) {
				const bx = Math.floor((coverage.colStart + column) / block.width);
				boxes.add(by * across + bx);
				if ((coverage.weights[row * coverage.width + column] ?? 0) > 0) touched.add(by * across + bx);
			}
		}
	}
	return { name, collection, vertices, hectares, touched: [...touched].sort((a, b) => a - b), boxTouched: boxes.size };
}

/** Stores the layout's collection as a field set, as POST /v1/fields does. */
async function storeFieldSet(pipeline: NodePipeline, layout: Layout, n: number): Promise<FieldSetRecord> {
	const id = `fld_${String(n).padStart(24, "0")}`;
	const objectKey = objectKeys.fieldSet(id);
	const bytes = await writeFieldCollection(pipeline.env.BUCKET, objectKey, JSON.stringify(layout.collection));
	const checked = checkFieldCollection(layout.collection, { maxFeatures: FIELDS, maxVertices: layout.vertices });
	if (checked instanceof ApiError) throw checked;
	const fieldSet = {
		id,
		tenantId: pipeline.tenantId,
		objectKey,
		features: checked.features.length,
		vertices: checked.vertices,
		bbox: checked.bbox,
		bytes,
		createdAt: new Date().toISOString(),
	};
	if (!(await insertFieldSetWithinQuota(pipeline.env.DB, fieldSet, { maxFieldSets: 100, maxFieldVertices: 1e9 })))
		throw new Error("the field set was refused");
	return fieldSet;
}

// ---------------------------------------------------------------------------------------------
// The jobs

/** The request POST /v1/jobs stores for NDVI over the field set: `inputs`, or `dates` flattened into them. */
function zonalRequest(fieldSet: FieldSetRecord, dates: number): JobRequest {
	const pair = {
		red: { upload_id: "upl_red", band: 1, scale: 1, offset: 0 },
		nir: { upload_id: "upl_nir", band: 1, scale: 1, offset: 0 },
	};
	const zones = { field_set_id: fieldSet.id, object_key: fieldSet.objectKey };
	if (dates === 1) return { index: "ndvi", inputs: pair, zones };
	const series = Array.from({ length: dates }, (_, d) => ({
		datetime: new Date(Date.UTC(2026, 4, 4 + 5 * d, 10, 20, 31)).toISOString(),
		inputs: pair,
	}));
	const inputs = Object.fromEntries(
		series.flatMap((date, d) => Object.entries(date.inputs).map(([name, input]) => [`${d}/${name}`, input])),
	);
	return { index: "ndvi", inputs, zones, dates: series };
}

/** Messages taken so far from each stage's queue (the queues keep all a run sends). */
const taken = new Map<StageName, number>();

/**
 * Runs the job's messages one at a time, always the earliest stage's first, until every queue is
 * drained: ingest, validate, the compute windows (queued a wave at a time by compute itself), publish.
 */
async function runJob(pipeline: NodePipeline, message: JobMessage): Promise<Invocation[]> {
	pipeline.queues.INGEST_QUEUE.sent.push(message);
	const measured: Invocation[] = [];
	for (;;) {
		const stage = stageNames.find(
			(name) => (taken.get(name) ?? 0) < pipeline.queues[pipelineStages[name].producer].sent.length,
		);
		if (!stage) return measured;
		const at = taken.get(stage) ?? 0;
		taken.set(stage, at + 1);
		const body = pipeline.queues[pipelineStages[stage].producer].sent[at] as Record<string, unknown>;
		const detail =
			body.strip_index !== undefined
				? `window ${body.strip_index}`
				: body.step !== undefined
					? `step ${body.step}`
					: "";
		measured.push(await pipeline.invoke(stage, [body], stage, detail));
		if (stage === "compute") process.stdout.write(".");
	}
}

/** Bytes the R2 stand-in has served from the inputs (uploads/…) so far. */
function inputBytesServed(pipeline: NodePipeline): number {
	let total = 0;
	for (const [key, bytes] of pipeline.served) if (key.startsWith("uploads/")) total += bytes;
	return total;
}

/** CPU of decoding the touched blocks of both bands once each, with the pipeline's reader, measured as an invocation is. */
function decodeFloor(
	pipeline: NodePipeline,
	images: Awaited<ReturnType<typeof openInputs>>,
	layout: Layout,
): Promise<Invocation> {
	return measure("decode floor", layout.name, pipeline.storage, async () => {
		for (const { image } of images) {
			const width = image.image.getTileWidth();
			const height = image.image.getTileHeight();
			const across = Math.ceil(image.image.getWidth() / width);
			for (const block of layout.touched) {
				const bx = block % across;
				const by = Math.floor(block / across);
				const decoded = await readWindow(image.image, [1], {
					rowStart: by * height,
					rowEnd: Math.min(image.image.getHeight(), (by + 1) * height),
					colStart: bx * width,
					colEnd: Math.min(image.image.getWidth(), (bx + 1) * width),
				});
				decoded.release();
			}
		}
	});
}

async function openInputs(pipeline: NodePipeline, uploads: { objectKey: string; bytes: number }[]) {
	return Promise.all(
		uploads.map(async (upload) => ({
			upload,
			image: await openRasterFile(pipeline.env, {
				objectKey: upload.objectKey,
				href: null,
				bytes: upload.bytes,
				allowedHosts: null,
			}),
		})),
	);
}

// ---------------------------------------------------------------------------------------------

interface Scenario {
	layout: LayoutName;
	dates: number;
	fieldDates: number;
	invocations: Invocation[];
	cpuMs: number;
	stageCpuMs: Record<string, number>;
	floorMs: number;
	bytesRead: number;
	touchedBytes: number;
	windows: number;
	/** Each compute window's size, rows x columns. */
	windowSizes: string[];
	slowest: Invocation;
	heaviest: Invocation;
}

const files = scenePair(process.argv.slice(2).filter((arg) => !arg.startsWith("--")));
/** `--only=spread` or `--only=clustered:10`: one layout, or one scenario, e.g. to profile it. */
const only = process.argv
	.find((arg) => arg.startsWith("--only="))
	?.slice("--only=".length)
	.split(":");
const chosen = (layout: LayoutName, dates?: number) =>
	!only || (only[0] === layout && (dates === undefined || only[1] === undefined || Number(only[1]) === dates));
const pipeline = await startNodePipeline("bench-fields");
const scenarios: Scenario[] = [];
const layouts: Layout[] = [];
const floors = new Map<LayoutName, Invocation>();
try {
	const uploads = [await pipeline.upload("red", files.red), await pipeline.upload("nir", files.nir)];
	const images = await openInputs(pipeline, uploads);
	const [first] = images;
	if (!first) throw new Error("no inputs");
	const crs = await readGeoReference(first.image.image);
	const geotransform = geotransformOf(crs);
	if (!geotransform) throw new Error("the scene is not georeferenced");
	const grid: Grid = { geotransform, width: first.image.image.getWidth(), height: first.image.image.getHeight(), crs };
	const block = { width: first.image.image.getTileWidth(), height: first.image.image.getTileHeight() };
	console.log(
		`inputs: ${files.red}, ${files.nir} (${grid.width} x ${grid.height}, ${block.width} x ${block.height} blocks)`,
	);
	for (const [n, name] of (["clustered", "spread"] as const).entries()) {
		if (!chosen(name)) continue;
		const layout = layoutOf(name, grid, block);
		layouts.push(layout);
		console.log(
			`${name}: ${FIELDS} fields, ${layout.hectares.toFixed(0)} ha, ${layout.vertices} positions; touched blocks per band ${layout.touched.length} (${layout.boxTouched} by bounding box)`,
		);
		const fieldSet = await storeFieldSet(pipeline, layout, n + 1);
		const touchedBytesPerDate = images.reduce(
			(sum, { image }) =>
				sum + layout.touched.reduce((bytes, b) => bytes + (image.structure.blocks.byteCounts[b] ?? 0), 0),
			0,
		);
		// Twice, the lesser kept: the first run also compiles the decoding paths.
		const floor = slowestBy(
			[await decodeFloor(pipeline, images, layout), await decodeFloor(pipeline, images, layout)],
			(run) => -run.cpuMs,
		);
		floors.set(name, floor);
		console.log(`  decode floor: ${seconds(floor.cpuMs)} CPU for ${2 * layout.touched.length} blocks`);
		for (const dates of DATES) {
			if (!chosen(name, dates)) continue;
			const request = zonalRequest(fieldSet, dates);
			const { indexId, formula } = prepareZonalJob(request);
			const id = `job_benchfields${name.slice(0, 1)}${String(dates).padStart(11, "0")}`;
			const message = await pipeline.admit({ id, process: "zonal_statistics", indexId, formula, request });
			const servedBefore = inputBytesServed(pipeline);
			process.stdout.write(`  ${name}, ${dates} date(s): `);
			const invocations = await runJob(pipeline, message);
			process.stdout.write("\n");
			const job = await getJob(pipeline.env.DB, id);
			if (job?.status !== "succeeded") throw new Error(`job ${id} ended ${job?.status}: ${JSON.stringify(job?.error)}`);
			const plan = jobPlan(job);
			const stageCpuMs: Record<string, number> = {};
			for (const invocation of invocations)
				stageCpuMs[invocation.step] = (stageCpuMs[invocation.step] ?? 0) + invocation.cpuMs;
			scenarios.push({
				layout: name,
				dates,
				fieldDates: FIELDS * dates,
				invocations,
				cpuMs: invocations.reduce((sum, invocation) => sum + invocation.cpuMs, 0),
				stageCpuMs,
				floorMs: floor.cpuMs * dates,
				bytesRead: inputBytesServed(pipeline) - servedBefore,
				touchedBytes: touchedBytesPerDate * dates,
				windows: plan?.strips.length ?? 0,
				windowSizes: (plan?.strips ?? []).map((w) => `${w.rowEnd - w.rowStart} x ${w.colEnd - w.colStart}`),
				slowest: slowestBy(invocations, (invocation) => invocation.cpuMs),
				heaviest: slowestBy(invocations, (invocation) => invocation.peakBytes),
			});
		}
	}
} finally {
	pipeline.close();
}

// ---------------------------------------------------------------------------------------------
// The report

const pass = (ok: boolean) => (ok ? "PASS" : "MISS");
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const within = (invocation: Invocation) =>
	invocation.cpuMs <= CPU_LIMIT_MS && invocation.peakBytes <= HEAVY_BUDGET_BYTES;
for (const scenario of scenarios) {
	const perSecond = scenario.fieldDates / (scenario.cpuMs / 1000);
	const overFloor = scenario.cpuMs / scenario.floorMs;
	const overTouched = scenario.bytesRead / scenario.touchedBytes;
	const budgets = scenario.invocations.every(within);
	const stages = Object.entries(scenario.stageCpuMs)
		.map(([stage, ms]) => `${stage} ${seconds(ms)}`)
		.join(", ");
	console.log(`\n## bench:fields — ${scenario.layout}, ${scenario.dates} date(s)\n`);
	console.log("| measure | value | goal |\n| --- | --- | --- |");
	console.log(`| field-dates | ${scenario.fieldDates} | |`);
	console.log(
		`| CPU summed over the job's ${scenario.invocations.length} invocations | ${seconds(scenario.cpuMs)} (${stages}) | |`,
	);
	console.log(
		`| field-dates per CPU-second | ${perSecond.toFixed(0)} | ${scenario.layout === "clustered" ? `≥ ${GOALS.clusteredFieldDatesPerCpuSecond}: ${pass(perSecond >= GOALS.clusteredFieldDatesPerCpuSecond)}` : ""} |`,
	);
	console.log(
		`| decode floor: the touched blocks decoded once${scenario.dates > 1 ? ` (x ${scenario.dates} dates)` : ""} | ${seconds(scenario.floorMs)}; CPU / floor ${ratio(scenario.cpuMs, scenario.floorMs)} | ${scenario.layout === "spread" ? `≤ ${GOALS.spreadCpuOverFloor}: ${pass(overFloor <= GOALS.spreadCpuOverFloor)}` : ""} |`,
	);
	console.log(
		`| bytes read / bytes of the touched blocks | ${mib(scenario.bytesRead)} / ${mib(scenario.touchedBytes)} = ${overTouched.toFixed(2)} | ≤ ${GOALS.bytesOverTouched}: ${pass(overTouched <= GOALS.bytesOverTouched)} |`,
	);
	console.log(`| compute windows | ${scenario.windows} | |`);
	console.log(
		`| slowest invocation | ${seconds(scenario.slowest.cpuMs)} CPU (${scenario.slowest.step} ${scenario.slowest.detail}) | ≤ 30 s |`,
	);
	console.log(
		`| largest peak memory of one invocation | ${mib(scenario.heaviest.peakBytes)} (${scenario.heaviest.step} ${scenario.heaviest.detail}) of ${mib(ISOLATE_MEMORY_BYTES)} (128 MB) | ≤ ${mib(HEAVY_BUDGET_BYTES)} |`,
	);
	console.log(`| every invocation within its budget | ${budgets ? "yes" : "no"} | ${pass(budgets)} |`);
}
console.log(
	"\nCPU: process.cpuUsage (all threads) per invocation, less the R2 and D1 stand-ins' calls; memory: heapUsed + external above the level after full GCs before the invocation (see bench/node-pipeline.ts). A budget: 30 s of CPU and a heavy message's STRIP_BUDGET_BYTES of the isolate's 128 MB (its 64 MiB less the Wasm instances kept between messages, which are in the level measured above; src/isolate-memory.ts).",
);
mkdirSync(OUT, { recursive: true });
writeFileSync(
	join(OUT, "report.json"),
	JSON.stringify(
		{
			files,
			goals: GOALS,
			layouts: layouts.map(({ collection: _, touched, ...layout }) => ({ ...layout, touchedBlocks: touched.length })),
			floors: Object.fromEntries(floors),
			scenarios,
		},
		null,
		2,
	),
);
