/**
 * NDVI over GDAL-written files of other byte orders, sample types, block layouts, compressions
 * and sizes (test/fixtures/layouts/generate.py), compared with numpy pixel for pixel.
 */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { geotransformOf, readGeoReference, sameCrs } from "../../src/raster/georeference";
import cases from "../fixtures/layouts/cases.json";
import { api, json, submitJob, upload, waitForJob } from "../helpers";

const files = import.meta.glob<ArrayBuffer>("../fixtures/layouts/*.{tif,f32}", { eager: true, import: "default" });

function fixture(name: string): ArrayBuffer {
	const bytes = files[`../fixtures/layouts/${name}`];
	if (!bytes) throw new Error(`no fixture ${name}`);
	return bytes;
}

/** `expected` names the NDVI file when the case shares another case's pixels (else `<case>.f32`). */
type LayoutCase = { inputs: Record<string, [string, number]>; shape: number[]; expected?: string };

describe.each(Object.entries(cases as unknown as Record<string, LayoutCase>))("layout %s", (name, spec) => {
	it("gives numpy's NDVI for every pixel, on the input's grid", async () => {
		const uploads = new Map<string, string>();
		for (const [file] of Object.values(spec.inputs)) {
			if (!uploads.has(file)) uploads.set(file, (await upload(fixture(file))).id);
		}
		const inputs = Object.fromEntries(
			Object.entries(spec.inputs).map(([band, [file, number]]) => [
				band,
				{ upload_id: uploads.get(file), band: number },
			]),
		);
		const response = await submitJob({ index: "ndvi", inputs });
		expect(response.status, await response.clone().text()).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.error).toBeNull();

		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const image = await (await fromArrayBuffer(result)).getImage();
		expect([image.getHeight(), image.getWidth()]).toEqual(spec.shape);
		const [firstFile = ""] = Object.values(spec.inputs)[0] ?? [];
		const inputGeo = await readGeoReference(await (await fromArrayBuffer(fixture(firstFile))).getImage());
		const resultGeo = await readGeoReference(image);
		expect(geotransformOf(resultGeo)).toEqual(geotransformOf(inputGeo));
		expect(sameCrs(resultGeo, inputGeo)).toBe(true);
		const [pixels] = (await image.readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(fixture(spec.expected ?? `${name}.f32`));
		const mismatches: string[] = [];
		expected.forEach((want, i) => {
			const got = pixels?.[i] ?? Number.NaN;
			const same = Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want);
			if (!same && mismatches.length < 3) mismatches.push(`pixel ${i}: ${got}, numpy ${want}`);
		});
		expect(mismatches).toEqual([]);
	});
});

describe("blocks stored empty (SPARSE_OK)", () => {
	// sparse_pred2 leaves rows 64-191, columns 0-127 unwritten; the file's nodata is 1000.
	const blank = { rows: [64, 192], columns: [0, 128] } as const;

	it.each([0, 1000, 5])("read as nodata whatever the job's nodata (%d)", async (nodata) => {
		const inputs = {
			red: { upload_id: (await upload(fixture("sparse_pred2_red.tif"))).id },
			nir: { upload_id: (await upload(fixture("sparse_pred2_nir.tif"))).id },
		};
		const response = await submitJob({ index: "ndvi", inputs, nodata });
		expect(response.status, await response.clone().text()).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.error).toBeNull();
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const image = await (await fromArrayBuffer(result)).getImage();
		const [pixels = new Float32Array()] = (await image.readRasters()) as unknown as Float32Array[];
		const width = image.getWidth();
		let read = 0;
		for (let row = blank.rows[0]; row < blank.rows[1]; row++) {
			for (let column = blank.columns[0]; column < blank.columns[1]; column++) {
				if (!Number.isNaN(pixels[row * width + column])) read++;
			}
		}
		expect(read).toBe(0);
		// The written blocks still read as values.
		expect(pixels.some((value) => !Number.isNaN(value))).toBe(true);
	});
});
