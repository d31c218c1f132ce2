/**
 * Hostile rasters. Headers beyond the configured limits, and layouts EO Edge does not read, are
 * refused with problems naming what was found and the limit. A corpus of malformed TIFFs
 * (test/corpus/malformed-tiffs.ts) goes through upload and, when accepted, through a job
 * (validate and compute); every case is also given to a job as a remote input, so validate
 * sees the headers upload refuses. Every case must end in a 4xx problem, or a job that ends
 * within the timeout with, if it failed, a 4xx problem: never a 500, a hang or a stuck job. A
 * job that succeeds must have written, for every pixel, NaN or the sample GDAL decodes there
 * (test/fixtures/corpus-gdal-decodes.json, written by test/corpus/gdal-decodes.ts).
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import type { Problem } from "../../src/errors/api-error";
import {
	CORPUS_FIXTURES,
	CORPUS_JOB_NODATA,
	CORPUS_SEED,
	type MalformedCase,
	malformedTiffs,
} from "../corpus/malformed-tiffs";
import gdalDecodes from "../fixtures/corpus-gdal-decodes.json";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";

const COGS = "https://cogs.test";
const globbed = {
	...import.meta.glob<ArrayBuffer>("../fixtures/{s2_red_256,s2_bgrn_300x200_lzw_striped}.tif", {
		eager: true,
		import: "default",
	}),
	...import.meta.glob<ArrayBuffer>(
		"../fixtures/layouts/{be_tiled16_red,bigtiff_red,lerc_zstd_red,packbits_tiled_red,wide_strips_red,wide_tiles_red}.tif",
		{
			eager: true,
			import: "default",
		},
	),
};
const corpus = malformedTiffs(
	Object.fromEntries(
		CORPUS_FIXTURES.map((name) => {
			const bytes = globbed[`../fixtures/${name}`];
			if (!bytes) throw new Error(`${name} is in CORPUS_FIXTURES but not imported here`);
			return [name, new Uint8Array(bytes)];
		}),
	),
	{ seed: CORPUS_SEED },
);
/** Jobs in flight at once: enough to overlap the queue stages, few enough for two cores. */
const CONCURRENT_JOBS = 6;
const JOB_TIMEOUT_MS = 20_000;

function corpusCase(name: string): { index: number; bytes: Uint8Array } {
	const index = corpus.findIndex((candidate) => candidate.name === name);
	const found = corpus[index];
	if (!found) throw new Error(`no corpus case ${name}`);
	return { index, bytes: found.bytes };
}

function postUpload(bytes: Uint8Array): Promise<Response> {
	return api("/v1/uploads", {
		method: "POST",
		headers: { "content-type": "image/tiff", "content-length": String(bytes.byteLength) },
		body: bytes,
	});
}

/** A job that writes band 1 of the file as it is (NaN where nodata), to compare with GDAL's decode. */
async function submitOnOneFile(input: Record<string, string>): Promise<string> {
	const response = await submitJob({ expression: "red", inputs: { red: input }, nodata: CORPUS_JOB_NODATA });
	expect(response.status, await response.clone().text()).toBe(202);
	return (await json<{ id: string }>(response)).id;
}

async function resultPixels(jobId: string): Promise<Float32Array> {
	const result = await (await api(`/v1/jobs/${jobId}/artifacts/result.tif`)).arrayBuffer();
	const image = await (await fromArrayBuffer(result)).getImage();
	const [pixels] = (await image.readRasters()) as unknown as Float32Array[];
	if (!pixels) throw new Error(`job ${jobId}: result.tif has no band`);
	return pixels;
}

async function sha256(values: Float32Array): Promise<string> {
	// NaN written afresh, so every NaN has the same bits.
	const canonical = Float32Array.from(values, (value) => (Number.isNaN(value) ? Number.NaN : value));
	const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", canonical));
	return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const cleanOutputs = new Map<string, Promise<Float32Array>>();

/** A job's output on the unmodified fixture, checked against GDAL's decode of it. */
function cleanOutput(fixture: string): Promise<Float32Array> {
	let output = cleanOutputs.get(fixture);
	if (!output) {
		output = (async () => {
			const bytes = globbed[`../fixtures/${fixture}`];
			if (!bytes) throw new Error(`no fixture ${fixture}`);
			const job = await waitForJob(await submitOnOneFile({ upload_id: (await upload(bytes)).id }));
			if (job.status !== "succeeded") throw new Error(`the job on ${fixture} ended ${job.status}`);
			const pixels = await resultPixels(job.id);
			const expected = (gdalDecodes.clean_sha256 as Record<string, string>)[fixture];
			if ((await sha256(pixels)) !== expected) throw new Error(`the job on ${fixture} differs from GDAL's decode`);
			return pixels;
		})();
		cleanOutputs.set(fixture, output);
	}
	return output;
}

/**
 * What is wrong with a succeeded job's pixels, or null: each must be NaN or the sample GDAL
 * decodes from the case (NaN where it is nodata); a file GDAL cannot read must not succeed.
 */
async function pixelsOutcome(caseName: string, jobId: string): Promise<string | null> {
	const decoded = (
		gdalDecodes.cases as unknown as Record<string, null | "many" | ([number, string] | [number, number, number])[]>
	)[caseName];
	if (decoded === undefined) return "not in corpus-gdal-decodes.json: run test/corpus/gdal-decodes.ts";
	if (decoded === null) return "succeeded, but GDAL cannot read the file";
	if (decoded === "many") return "succeeded, but GDAL decodes more than 20000 pixels differently (not stored)";
	const expected = (await cleanOutput(caseName.slice(0, caseName.indexOf(": ")))).slice();
	for (const [first, samples, sample] of decoded) {
		const values =
			typeof samples === "number"
				? new Float32Array(samples).fill(sample ?? Number.NaN)
				: new Float32Array(Uint8Array.from(atob(samples), (char) => char.charCodeAt(0)).buffer);
		values.forEach((value, i) => {
			expected[first + i] = value === CORPUS_JOB_NODATA ? Number.NaN : value;
		});
	}
	const pixels = await resultPixels(jobId);
	if (pixels.length !== expected.length)
		return `result.tif has ${pixels.length} pixels, GDAL decodes ${expected.length}`;
	const wrong: string[] = [];
	pixels.forEach((got, i) => {
		if (!Number.isNaN(got) && !Object.is(got, expected[i])) wrong.push(`pixel ${i}: ${got}, GDAL ${expected[i]}`);
	});
	return wrong.length === 0
		? null
		: `${wrong.length} pixels differ from GDAL's decode, e.g. ${wrong.slice(0, 3).join("; ")}`;
}

async function uploadedJob(name: string): Promise<Job> {
	const response = await postUpload(corpusCase(name).bytes);
	expect(response.status, await response.clone().text()).toBe(201);
	return waitForJob(await submitOnOneFile({ upload_id: (await json<{ id: string }>(response)).id }));
}

async function remoteJob(name: string): Promise<Job> {
	return waitForJob(await submitOnOneFile({ href: `${COGS}/corpus/${corpusCase(name).index}` }));
}

describe("raster limits", () => {
	it.each([
		[
			"s2_red_256.tif: 200000 x 200000 pixels",
			"200000 x 200000 pixels",
			"RASTER_MAX_DIMENSION",
			env.RASTER_MAX_DIMENSION,
		],
		["s2_red_256.tif: 1000 samples per pixel", "1000 bands", "RASTER_MAX_BANDS", env.RASTER_MAX_BANDS],
		[
			"s2_red_256.tif: tiles of 65536 x 65536 pixels",
			"65536 x 65536 pixels",
			"RASTER_MAX_BLOCK_BYTES",
			env.RASTER_MAX_BLOCK_BYTES,
		],
		[
			"s2_red_256.tif: tiles of 16 x 16 pixels over 60000 x 60000",
			"14062500 tiles",
			"RASTER_MAX_BLOCKS",
			env.RASTER_MAX_BLOCKS,
		],
		[
			"s2_bgrn_300x200_lzw_striped.tif: one strip of the whole image, 65536 rows",
			"300 x 65536 pixels",
			"RASTER_MAX_BLOCK_BYTES",
			env.RASTER_MAX_BLOCK_BYTES,
		],
	])(
		"refuse %s at upload and at validate, naming what was found and the limit",
		async (name, found, limitVar, limit) => {
			const problem = await expectProblem(await postUpload(corpusCase(name).bytes), 422, "raster-too-large");
			for (const part of [found, limitVar, String(limit)]) expect(problem.detail).toContain(part);

			const job = await remoteJob(name);
			expect(job.status).toBe("failed");
			expect(job.stage).toBe("validate");
			expect(job.error?.type).toBe("https://eo-edge.dev/problems/raster-too-large");
			for (const part of [found, limitVar, String(limit)]) expect(job.error?.detail).toContain(part);
			expect(job.error?.detail).toMatch(/^input '(red|nir)': /);
		},
	);

	it("refuse a truncated file at upload, and at validate when it is remote", async () => {
		const name = "s2_red_256.tif: truncated in the first block's data";
		const [truncated] = corpus.filter((candidate) => candidate.name.startsWith(name));
		expect(truncated).toBeDefined();
		const problem = await expectProblem(await postUpload(truncated?.bytes ?? new Uint8Array()), 422, "invalid-raster");
		expect(problem.detail).toContain("the file is truncated");

		const job = await remoteJob(truncated?.name ?? "");
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/invalid-raster");
		expect(job.error?.detail).toContain("the file is truncated");
	});

	it("refuse blocks that store more than any compression of them could take", async () => {
		// 4-bit samples would make each 128 x 128 tile 8 KiB decoded; the file stores 16-bit tiles.
		const problem = await expectProblem(
			await postUpload(corpusCase("s2_red_256.tif: 4-bit samples").bytes),
			422,
			"invalid-raster",
		);
		expect(problem.detail).toContain("more than any compression of its 8192 decoded bytes takes");
	});

	it("fail a job whose windows start inside a strip that decodes short", async () => {
		// 1100 columns in 512-column windows: the second and third windows start inside every strip.
		const name = "layouts/wide_strips_red.tif: first block byte count 4 short";
		for (const job of [await uploadedJob(name), await remoteJob(name)]) {
			expect(job.status).toBe("failed");
			expect(job.stage).toBe("compute");
			expect(job.error?.type).toBe("https://eo-edge.dev/problems/invalid-raster");
			expect(job.error?.detail).toMatch(/block \(0, 0\) decodes to \d+ bytes; the rows read from it need \d+/);
		}
	});

	it("read a file whose IFD points at itself: only the first IFD is read", async () => {
		const job = await uploadedJob("s2_red_256.tif: IFD that points at itself");
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
	});
});

describe("unsupported layouts", () => {
	it.each([
		["s2_red_256.tif: compression 34712 (JPEG 2000)", "compression 34712 (JPEG 2000) is not supported; use "],
		["s2_red_256.tif: compression 50001 (WebP)", "compression 50001 (WebP) is not supported"],
		["s2_red_256.tif: unknown compression 4242", "compression 4242 (unknown) is not supported"],
		["s2_red_256.tif: complex samples (SampleFormat 6)", "sample type CFloat16 is not supported"],
		["s2_red_256.tif: 12-bit samples", "sample type UInt12 is not supported"],
		["s2_red_256.tif: palette photometric", "photometric interpretation 3 (palette) is not supported"],
		["s2_red_256.tif: YCbCr photometric", "photometric interpretation 6 (YCbCr) is not supported"],
	])("fail a job on %s at validate, naming what was found", async (name, detail) => {
		const job = await uploadedJob(name);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/unsupported-raster");
		expect(job.error?.detail).toContain(detail);
		expect(job.error?.errors?.[0]?.path).toMatch(/^inputs\.(red|nir)$/);
	});
});

/** What went wrong with one corpus case, or null when it ended as it must. */
async function runCase({ name, bytes }: MalformedCase): Promise<string | null> {
	const upload = await postUpload(bytes);
	const uploaded = await json<{ id?: string } & Partial<Problem>>(upload);
	if (upload.status !== 201) {
		const isProblem = upload.headers.get("content-type") === "application/problem+json";
		return upload.status >= 400 && upload.status < 500 && isProblem
			? null
			: `upload answered ${upload.status}: ${JSON.stringify(uploaded)}`;
	}
	return jobOutcome(name, { upload_id: uploaded.id ?? "" });
}

/**
 * Submits a job on the case and waits for it: it must end, a failure must be a 4xx problem, and
 * a success must hold GDAL's pixels.
 */
async function jobOutcome(caseName: string, input: Record<string, string>): Promise<string | null> {
	const id = await submitOnOneFile(input);
	let job: Job;
	try {
		job = await waitForJob(id, { timeoutMs: JOB_TIMEOUT_MS });
	} catch (error) {
		return `job ${id} did not end: ${error instanceof Error ? error.message : String(error)}`;
	}
	if (job.status === "succeeded") return pixelsOutcome(caseName, id);
	if (job.status === "failed" && job.error && job.error.status >= 400 && job.error.status < 500) return null;
	return `job ${id} ended ${job.status} with ${JSON.stringify(job.error)}`;
}

describe.each(CORPUS_FIXTURES)("malformed variants of %s", (fixture) => {
	const cases = corpus.flatMap((candidate, index) =>
		candidate.name.startsWith(`${fixture}: `) ? [{ index, candidate }] : [],
	);

	it("each end in a 4xx problem, or a job that ends, failing only with a 4xx problem", {
		timeout: 240_000,
	}, async () => {
		expect(cases.length).toBeGreaterThan(30);
		const failures: string[] = [];
		const queue = [...cases];
		const worker = async () => {
			for (let next = queue.shift(); next; next = queue.shift()) {
				const uploadOutcome = await runCase(next.candidate);
				// Every case, refused at upload or not, also reaches validate as a remote input.
				const remoteOutcome = await jobOutcome(next.candidate.name, { href: `${COGS}/corpus/${next.index}` });
				for (const outcome of [uploadOutcome, remoteOutcome]) {
					if (outcome) failures.push(`${next.candidate.name}: ${outcome}`);
				}
			}
		};
		await Promise.all(Array.from({ length: CONCURRENT_JOBS }, worker));
		expect(failures).toEqual([]);
	});
});
