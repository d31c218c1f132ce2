/** Jobs whose inputs cannot be combined end `failed` at validate with a problem saying why. */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { getJob } from "../../src/db/jobs";
import { pipelineStages } from "../../src/pipeline/stages";
import { storeWorkingSetBytes, widestStorableWidth } from "../../src/pipeline/store/budget";
import { readGeoReference } from "../../src/raster/georeference";
import { assembleCog } from "../cog";
import mismatch15m from "../fixtures/mismatch_nir_15m.tif";
import mismatch255 from "../fixtures/mismatch_nir_255.tif";
import mismatchHalfPixel from "../fixtures/mismatch_nir_half_pixel.tif";
import mismatchShifted from "../fixtures/mismatch_nir_shifted.tif";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, json, submitJob, upload, waitForJob } from "../helpers";
import { deliver, insertNdviJob, recordingEnv } from "../pipeline-driver";

async function runNdvi(redBytes: ArrayBuffer, nirBytes: ArrayBuffer, extra: Record<string, unknown> = {}) {
	const red = await upload(redBytes);
	const nir = await upload(nirBytes);
	const response = await submitJob({
		index: "ndvi",
		inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		...extra,
	});
	expect(response.status).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

describe("validate", () => {
	it("puts a pair of one grid but other extents on the first's grid, nodata where the other does not reach", async () => {
		const job = await runNdvi(red256, mismatch255);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const image = await (await fromArrayBuffer(result)).getImage();
		expect([image.getWidth(), image.getHeight()]).toEqual([256, 256]);
		const [values] = (await image.readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(ndviS2);
		// The NIR file stops a row short: that row is nodata, the rest is the NDVI of the full pair.
		for (let i = 0; i < 255 * 256; i++) {
			if (Number.isNaN(expected[i] as number)) expect(values?.[i]).toBeNaN();
			else expect(values?.[i]).toBe(expected[i]);
		}
		for (let i = 255 * 256; i < 256 * 256; i++) expect(values?.[i]).toBeNaN();

		// Shifted by a whole pixel, the NIR's first column lies under the red's second.
		const shifted = await runNdvi(red256, mismatchShifted);
		expect(shifted.status, JSON.stringify(shifted.error)).toBe("succeeded");
	});

	it.each([
		["half a pixel off", mismatchHalfPixel, "origin (600005, 5300040)"],
		["15 m beside 10 m", mismatch15m, "pixel 15 x 15"],
	])("fails a pair whose grids do not nest (%s), naming both grids", async (_name, nir, grid) => {
		const job = await runNdvi(red256, nir);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/raster-mismatch");
		expect(job.error?.detail).toContain(grid);
		expect(job.error?.detail).toContain("origin (600000, 5300040), pixel 10 x 10");
		expect(job.error?.errors?.map((error) => error.path).sort()).toEqual(["inputs.nir", "inputs.red"]);
		expect(job.artifacts).toEqual([]);
	});

	it("fails a truncated remote file from its header, naming the input", async () => {
		// Uploads refuse a truncated file outright (test/integration/hostile-rasters.test.ts).
		const red = await upload(red256);
		const response = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { href: "https://cogs.test/files/truncated.tif" } },
		});
		expect(response.status).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/invalid-raster");
		expect(job.error?.detail).toContain("'nir'");
		expect(job.error?.detail).toContain("truncated");
	});

	it("fails an unsupported sample type, naming what it found", async () => {
		// A readable float32 GeoTIFF relabelled as complex float (SampleFormat 6).
		const geo = await readGeoReference(await (await fromArrayBuffer(red256)).getImage());
		const { file: bytes } = await assembleCog({ width: 256, height: 256, geo }, new Float32Array(256 * 256));
		const view = new DataView(bytes.buffer);
		const ifd = view.getUint32(4, true);
		for (let entry = 0; entry < view.getUint16(ifd, true); entry++) {
			const at = ifd + 2 + entry * 12;
			if (view.getUint16(at, true) === 339) view.setUint16(at + 8, 6, true);
		}
		const job = await runNdvi(red256, bytes.buffer as ArrayBuffer);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/unsupported-raster");
		expect(job.error?.detail).toContain("CFloat32");
	});
});

describe("store budget", () => {
	it("fails a raster whose store would not fit STORE_BUDGET_BYTES before planning any strip", async () => {
		const [width, height] = [2060, 1240];
		const geo = await readGeoReference(await (await fromArrayBuffer(red256)).getImage());
		const values = Float32Array.from({ length: width * height }, (_, i) => 100 + (i % 997));
		const { file } = await assembleCog({ width, height, geo }, values);
		const band = file.buffer as ArrayBuffer;
		const needed = storeWorkingSetBytes(width, height);
		const budget = needed - 1;
		const { testEnv, sent } = recordingEnv({ STORE_BUDGET_BYTES: budget });
		const job = await insertNdviJob("5f0c6a1e2b3d4c5e6f708192a3b4c5d6", { red: band, nir: band });
		const message = { job_id: job.id, trace_id: job.traceId };
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		await deliver(pipelineStages.validate.queue, message, testEnv);

		const failed = await getJob(env.DB, job.id);
		expect(failed?.status).toBe("failed");
		expect(failed?.plan).toBeNull();
		expect(sent.compute).toEqual([]);
		expect(failed?.error?.type).toBe("https://eo-edge.dev/problems/raster-too-large");
		// Store's invocations hold an overview block or a part whatever the width, so below that
		// no width fits.
		expect(widestStorableWidth(height, budget)).toBe(0);
		expect(failed?.error?.detail).toContain("2060 x 1240");
		expect(failed?.error?.detail).toContain("STORE_BUDGET_BYTES");
		expect(failed?.error?.detail).toContain("no raster of this height fits it");

		// With the budget it needs, the same job is planned.
		const { testEnv: enough, sent: planned } = recordingEnv({ STORE_BUDGET_BYTES: needed });
		const again = await insertNdviJob("5f0c6a1e2b3d4c5e6f708192a3b4c5d7", { red: band, nir: band });
		const messageAgain = { job_id: again.id, trace_id: again.traceId };
		await deliver(pipelineStages.ingest.queue, messageAgain, enough);
		await deliver(pipelineStages.validate.queue, messageAgain, enough);
		expect((await getJob(env.DB, again.id))?.plan).not.toBeNull();
		expect(planned.compute.length).toBeGreaterThan(0);
	});
});

describe("nodata", () => {
	it("uses the request's nodata instead of the files' GDAL_NODATA", async () => {
		const readBand = async (bytes: ArrayBuffer) => {
			const image = await (await fromArrayBuffer(bytes)).getImage();
			const [band] = (await image.readRasters()) as unknown as Uint16Array[];
			return band as Uint16Array;
		};
		const red = await readBand(red256);
		const nir = await readBand(nir256);
		// The most common red value, so the override masks many pixels the file's nodata would not.
		const histogram = new Map<number, number>();
		for (const value of red) histogram.set(value, (histogram.get(value) ?? 0) + 1);
		const override = [...histogram.entries()].filter(([value]) => value !== 0).sort((a, b) => b[1] - a[1])[0]?.[0];
		expect(override).toBeDefined();

		const job = await runNdvi(red256, nir256, { nodata: override });
		expect(job.status).toBe("succeeded");
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const [ndvi] = (await (
			await (await fromArrayBuffer(result)).getImage()
		).readRasters()) as unknown as Float32Array[];
		let checked = 0;
		for (let i = 0; i < red.length; i++) {
			const r = red[i] as number;
			const n = nir[i] as number;
			const expectNaN = r === override || n === override || r + n === 0;
			expect(Number.isNaN(ndvi?.[i]), `pixel ${i}: red ${r}, nir ${n}`).toBe(expectNaN);
			if (r === 0 && n > 0) {
				// The file's nodata (0) no longer applies: the pixel is computed.
				expect(ndvi?.[i]).toBe(1);
				checked++;
			}
		}
		expect(checked).toBeGreaterThan(0);
	});
});
