/**
 * Example bodies for the OpenAPI document, one per resource. A test parses each against the
 * schema it illustrates, so the documentation cannot drift from what the API returns.
 */
const JOB_ID = "job_0123456789abcdef01234567";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

export const uploadExample = {
	id: "upl_0123456789abcdef01234567",
	bytes: 95855,
	created_at: "2026-11-25T12:00:00.000Z",
	raster: {
		width: 256,
		height: 256,
		bands: 1,
		data_type: "UInt16",
		nodata: 0,
		block_width: 256,
		block_height: 32,
		epsg: 32633,
	},
};

const SESSION_URL = "/v1/uploads/upl_0123456789abcdef01234567";

export const uploadSessionExample = {
	id: "upl_0123456789abcdef01234567",
	status: "open",
	bytes: 25165824,
	part_bytes: 16777216,
	created_at: "2026-11-25T12:00:00.000Z",
	parts: [
		{ number: 1, bytes: 16777216, href: `${SESSION_URL}/parts/1`, received: false },
		{ number: 2, bytes: 8388608, href: `${SESSION_URL}/parts/2`, received: false },
	],
	complete_href: `${SESSION_URL}/complete`,
	abort_href: `${SESSION_URL}/abort`,
};

export const uploadPartExample = { number: 1, bytes: 16777216, href: `${SESSION_URL}/parts/1`, received: true };

export const createJobExample = {
	index: "ndvi",
	inputs: {
		red: { upload_id: "upl_0123456789abcdef01234567", band: 1 },
		nir: { upload_id: "upl_89abcdef0123456789abcdef", band: 1 },
	},
};

export const queuedJobExample = {
	id: JOB_ID,
	status: "queued",
	stage: null,
	progress: 0,
	index: "ndvi",
	created_at: "2026-11-25T12:00:01.000Z",
	updated_at: "2026-11-25T12:00:01.000Z",
	error: null,
	artifacts: [],
};

export const succeededJobExample = {
	...queuedJobExample,
	status: "succeeded",
	stage: "publish",
	progress: 1,
	updated_at: "2026-11-25T12:00:03.000Z",
	artifacts: [
		{
			name: "result.tif",
			media_type: "image/tiff; application=geotiff",
			bytes: 262400,
			href: `/v1/jobs/${JOB_ID}/artifacts/result.tif`,
		},
		{ name: "stats.json", media_type: "application/json", bytes: 612, href: `/v1/jobs/${JOB_ID}/artifacts/stats.json` },
	],
};

export const jobEventsExample = {
	events: [
		{
			stage: "ingest",
			status: "started",
			at: "2026-11-25T12:00:01.100Z",
			duration_ms: null,
			attempt: 1,
			trace_id: TRACE_ID,
			detail: null,
		},
		{
			stage: "ingest",
			status: "succeeded",
			at: "2026-11-25T12:00:01.140Z",
			duration_ms: 40,
			attempt: 1,
			trace_id: TRACE_ID,
			detail: null,
		},
		{
			stage: "compute",
			status: "succeeded",
			at: "2026-11-25T12:00:02.300Z",
			duration_ms: 85,
			attempt: 1,
			trace_id: TRACE_ID,
			detail: { strip_index: 0 },
		},
	],
};

export const statisticsExample = {
	index: "ndvi",
	count: 65536,
	nodata_count: 0,
	min: -0.21,
	max: 0.87,
	mean: 0.41,
	std: 0.18,
	histogram: {
		edges: [-1, 0, 1],
		counts: [5120, 60416],
		below_range: 0,
		above_range: 0,
	},
};

export const indexListExample = {
	indices: [
		{
			id: "ndvi",
			name: "Normalized Difference Vegetation Index",
			formula: "(nir - red) / (nir + red)",
			bands: ["nir", "red"],
			domain: "vegetation",
			reference: "https://ntrs.nasa.gov/citations/19740022614",
		},
	],
};

export const healthExample = { status: "ok", version: "1.0.0" };
