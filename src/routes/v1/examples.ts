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
	expires_at: "2026-11-26T12:00:00.000Z",
	parts: [
		{ number: 1, bytes: 16777216, href: `${SESSION_URL}/parts/1`, received: false },
		{ number: 2, bytes: 8388608, href: `${SESSION_URL}/parts/2`, received: false },
	],
	complete_href: `${SESSION_URL}/complete`,
	abort_href: `${SESSION_URL}/abort`,
};

export const uploadPartExample = { number: 1, bytes: 16777216, href: `${SESSION_URL}/parts/1`, received: true };

export const createJobExample = {
	index: "savi",
	constants: { L: 0.5 },
	inputs: {
		red: { upload_id: "upl_0123456789abcdef01234567", band: 3, scale: 0.0001, offset: -0.1 },
		nir: { upload_id: "upl_0123456789abcdef01234567", band: 4, scale: 0.0001, offset: -0.1 },
	},
};

export const queuedJobExample = {
	id: JOB_ID,
	status: "queued",
	stage: null,
	progress: 0,
	process: "index",
	index: "SAVI",
	expression: "(1.0 + L) * (nir - red) / (nir + red + L)",
	constants: { L: 0.5 },
	inputs: {
		red: { upload_id: "upl_0123456789abcdef01234567", band: 3, scale: 0.0001, offset: -0.1 },
		nir: { upload_id: "upl_0123456789abcdef01234567", band: 4, scale: 0.0001, offset: -0.1 },
	},
	trace_id: TRACE_ID,
	usage: {
		wall_ms: 12,
		invocations: 0,
		bytes_read_uploads: 0,
		bytes_read_remote: 0,
		bytes_written: 0,
		pixels: null,
	},
	created_at: "2026-11-25T12:00:01.000Z",
	updated_at: "2026-11-25T12:00:01.000Z",
	error: null,
	warnings: [],
	artifacts: [],
};

export const succeededJobExample = {
	...queuedJobExample,
	status: "succeeded",
	stage: "publish",
	progress: 1,
	updated_at: "2026-11-25T12:00:03.000Z",
	usage: {
		wall_ms: 2012,
		invocations: 9,
		bytes_read_uploads: 4194304,
		bytes_read_remote: 0,
		bytes_written: 1048576,
		pixels: 1048576,
	},
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

export const canceledJobExample = {
	...queuedJobExample,
	status: "canceled",
	stage: "compute",
	progress: 0.4,
	updated_at: "2026-11-25T12:00:02.000Z",
	usage: { ...queuedJobExample.usage, wall_ms: 1012, invocations: 4, bytes_read_uploads: 2097152, pixels: 1048576 },
};

export const jobListExample = {
	jobs: [{ ...succeededJobExample, id: "job_89abcdef0123456789abcdef" }, queuedJobExample],
	next: "MjAyNi0xMS0yNVQxMjowMDowMS4wMDBafGpvYl8wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc",
};

export const jobLogsExample = {
	logs: [
		{
			id: "1",
			time: "2026-11-25T12:00:01.000Z",
			level: "info" as const,
			stage: "ingest",
			code: "queued",
			message: "queued: waiting for ingest to start",
			trace_id: TRACE_ID,
			span_id: "b7ad6b7169203331",
		},
		{
			id: "2",
			time: "2026-11-25T12:00:01.100Z",
			level: "info" as const,
			stage: "ingest",
			attempt: 1,
			code: "started",
			message: "ingest started",
			trace_id: TRACE_ID,
			span_id: "00f067aa0ba902b7",
		},
		{
			id: "3",
			time: "2026-11-25T12:00:01.140Z",
			level: "info" as const,
			stage: "ingest",
			attempt: 1,
			code: "succeeded",
			message: "ingest finished in 40 ms; waiting for validate",
			data: { inputs: 2, next: "validate" },
			trace_id: TRACE_ID,
			span_id: "00f067aa0ba902b7",
		},
	],
	next: "bG9nOjM",
};

export const jobTraceExample = {
	resourceSpans: [
		{
			resource: {
				attributes: [
					{ key: "service.name", value: { stringValue: "eo-edge" } },
					{ key: "service.version", value: { stringValue: "1.1.0" } },
				],
			},
			scopeSpans: [
				{
					scope: { name: "eo-edge.pipeline", version: "1.1.0" },
					spans: [
						{
							traceId: TRACE_ID,
							spanId: "0123456789abcdef",
							name: "job index",
							kind: 1,
							startTimeUnixNano: "1764072001000000000",
							endTimeUnixNano: "1764072003000000000",
							attributes: [{ key: "eo.job.id", value: { stringValue: "job_0123456789abcdef01234567" } }],
							events: [],
							status: { code: 1 },
						},
						{
							traceId: TRACE_ID,
							spanId: "00f067aa0ba902b7",
							parentSpanId: "0123456789abcdef",
							name: "ingest",
							kind: 5,
							startTimeUnixNano: "1764072001100000000",
							endTimeUnixNano: "1764072001140000000",
							attributes: [
								{ key: "eo.stage", value: { stringValue: "ingest" } },
								{ key: "eo.attempt", value: { intValue: "1" } },
							],
							events: [],
							status: { code: 1 },
						},
					],
				},
			],
		},
	],
};

export const opsFailuresExample = {
	failures: [
		{
			time: "2026-11-25T12:00:01.140Z",
			tenant_id: "ten_0123456789abcdef01234567",
			job_id: JOB_ID,
			stage: "ingest",
			attempt: 1,
			code: "input-unavailable",
			message: "ingest failed: input 'nir': the server answered 404 (not found)",
			trace_id: TRACE_ID,
			span_id: "00f067aa0ba902b7",
		},
	],
	next: null,
};

export const opsStagesExample = {
	window: "1h",
	since: "2026-11-25T11:00:00.000Z",
	truncated: false,
	stages: [
		{
			stage: "compute",
			runs: 120,
			failures: 0,
			retries: 2,
			dead_letters: 0,
			duration_ms: { p50: 310, p95: 820, p99: 1400 },
			queue_wait_ms: { p50: 40, p95: 900, p99: 2100 },
		},
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
	index: "SAVI",
	expression: "(1.0 + L) * (nir - red) / (nir + red + L)",
	constants: { L: 0.5 },
	inputs: { red: { scale: 0.0001, offset: -0.1 }, nir: { scale: 0.0001, offset: -0.1 } },
	count: 65536,
	nodata_count: 0,
	masked_count: 0,
	min: -0.21,
	max: 0.87,
	mean: 0.41,
	std: 0.18,
	percentiles: { p2: -0.05, p50: 0.43, p98: 0.79 },
	percentile_relative_error: 0.00390625,
	histogram: {
		edges: [-0.21, 0.33, 0.87],
		range_source: "data" as const,
		counts: [5120, 60416],
		below_range: 0,
		above_range: 0,
	},
	warnings: [],
};

export const indexExample = {
	id: "SAVI",
	name: "Soil-Adjusted Vegetation Index",
	formula: "(1.0 + L) * (nir - red) / (nir + red + L)",
	bands: ["nir", "red"],
	constants: [{ name: "L", default: 1, description: "Canopy background adjustment" }],
	domain: "vegetation",
	reference: "https://doi.org/10.1016/0034-4257(88)90106-X",
	platforms: ["Sentinel-2", "Landsat-OLI", "Landsat-TM", "Landsat-ETM+", "MODIS", "Planet-Fusion"],
};

export const indexListExample = {
	indices: [
		{
			id: "NDVI",
			name: "Normalized Difference Vegetation Index",
			formula: "(nir - red)/(nir + red)",
			bands: ["nir", "red"],
			constants: [],
			domain: "vegetation",
			reference: "https://ntrs.nasa.gov/citations/19740022614",
			platforms: ["Sentinel-2", "Landsat-OLI", "Landsat-TM", "Landsat-ETM+", "MODIS", "Planet-Fusion"],
		},
		indexExample,
	],
};

export const healthExample = { status: "ok", version: "1.1.0" };

export const fieldSetExample = {
	id: "fld_0123456789abcdef01234567",
	features: 2,
	bbox: [16.3432, 47.8297, 16.371, 47.8385],
	created_at: "2026-11-25T12:00:00.000Z",
};

export const fieldSetListExample = {
	field_sets: [{ ...fieldSetExample, id: "fld_89abcdef0123456789abcdef", features: 120 }, fieldSetExample],
	next: "MjAyNi0xMS0yNVQxMjowMDowMC4wMDBafGZsZF8wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc",
};
