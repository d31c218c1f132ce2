/**
 * Checks the streamed float32 GeoTIFF against GDAL itself: for real GDAL-written fixtures it
 * writes a result the way the store stage does (header, then strips in order), asks
 * `gdalinfo -json` for CRS, geotransform, size, type, nodata and band description, and reads
 * the pixels back with `gdal_translate -of ENVI` to compare them byte for byte. A PixelIsPoint
 * variant checks geotransformOf against GDAL's half-pixel convention, and a sparse file just
 * over 4 GiB checks the BigTIFF path.
 *
 * Needs GDAL's command-line tools (Debian: apt-get install gdal-bin). Exits non-zero on any
 * mismatch. Usage: npx tsx scripts/gdal-writer-check.ts
 */
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromArrayBuffer } from "geotiff";
import { type Float32RasterLayout, float32StripHeader } from "../src/raster/float32-writer";
import { type GeoReference, geotransformOf, readGeoReference } from "../src/raster/georeference";

const FIXTURES = join(import.meta.dirname, "..", "test", "fixtures");

interface GdalInfo {
	size: [number, number];
	geoTransform?: number[];
	coordinateSystem?: { wkt: string };
	bands: {
		type: string;
		description?: string;
		noDataValue?: number | string;
	}[];
}

let failures = 0;

function check(label: string, ok: boolean, detail = ""): void {
	if (!ok) failures++;
	console.log(`${ok ? "ok  " : "FAIL"} ${label}${ok || detail === "" ? "" : `: ${detail}`}`);
}

/** Runs a GDAL tool; anything it says on stderr (a TIFF warning, say) counts as a failure. */
function gdal(tool: string, args: string[]): string {
	const run = spawnSync(tool, args, { encoding: "utf8" });
	if (run.error) throw run.error;
	check(`${tool} ${args.at(-1)}: exit 0, no warnings`, run.status === 0 && run.stderr === "", run.stderr.trim());
	return run.stdout;
}

function gdalinfo(path: string): GdalInfo {
	return JSON.parse(gdal("gdalinfo", ["-json", path])) as GdalInfo;
}

/** Pixels as GDAL decodes them: raw float32 in this machine's (little-endian) order. */
function gdalPixels(path: string, window?: [number, number, number, number]): Buffer {
	const out = `${path}.raw`;
	const srcwin = window ? ["-srcwin", ...window.map(String)] : [];
	gdal("gdal_translate", ["-q", "-of", "ENVI", ...srcwin, path, out]);
	return readFileSync(out);
}

async function readFixture(name: string): Promise<GeoReference> {
	const bytes = readFileSync(join(FIXTURES, name));
	const tiff = await fromArrayBuffer(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
	return readGeoReference(await tiff.getImage(0));
}

/** Float32 samples with NaN, ±0, ±∞ and a subnormal among ordinary values. */
function syntheticPixels(count: number): Float32Array {
	const special = [Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45];
	return Float32Array.from({ length: count }, (_, i) => special[i % 17] ?? Math.cos(i) * 2 - 1);
}

/** Writes the header, then each strip, appending as the store stage streams them. */
function writeStreamed(path: string, layout: Float32RasterLayout, pixels: Float32Array): void {
	const { header, stripByteCounts, totalBytes } = float32StripHeader(layout);
	const data = Buffer.from(pixels.buffer);
	const fd = openSync(path, "w");
	writeSync(fd, header);
	let written = 0;
	for (const count of stripByteCounts) {
		writeSync(fd, data, written, count);
		written += count;
	}
	closeSync(fd);
	check("file is totalBytes long", statSync(path).size === totalBytes);
}

function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
	return a !== undefined && b !== undefined && a.length === b.length && a.every((value, i) => value === b[i]);
}

function isNanNodata(value: number | string | undefined): boolean {
	return typeof value === "string" ? value.toLowerCase() === "nan" : Number.isNaN(value);
}

async function checkFixture(name: string, geoEdit?: (geo: GeoReference) => GeoReference): Promise<void> {
	const label = geoEdit ? `${name} (as PixelIsPoint)` : name;
	console.log(`\n# ${label}`);
	const source = gdalinfo(join(FIXTURES, name));
	const fixtureGeo = await readFixture(name);
	const geo = geoEdit ? geoEdit(fixtureGeo) : fixtureGeo;
	const expectedTransform = geotransformOf(geo);
	if (!geoEdit) {
		check(
			"geotransformOf(source) equals GDAL's source geotransform",
			sameNumbers(expectedTransform ?? [], source.geoTransform),
			`${expectedTransform} vs ${source.geoTransform}`,
		);
	}

	const layout: Float32RasterLayout = {
		width: 37,
		height: 23,
		rowsPerStrip: 5,
		geo,
		description: `NDVI of ${name}`,
	};
	const pixels = syntheticPixels(layout.width * layout.height);
	const path = join(workDir, `${label.replace(/\W+/g, "_")}.tif`);
	writeStreamed(path, layout, pixels);

	const result = gdalinfo(path);
	const band = result.bands[0];
	check("size", sameNumbers(result.size, [layout.width, layout.height]), `${result.size}`);
	check("one band of type Float32", result.bands.length === 1 && band?.type === "Float32", `${band?.type}`);
	check("nodata is NaN", isNanNodata(band?.noDataValue), `${band?.noDataValue}`);
	check("band description", band?.description === layout.description, `${band?.description}`);
	check("CRS WKT equals the source's", result.coordinateSystem?.wkt === source.coordinateSystem?.wkt);
	check(
		"geotransform equals geotransformOf(geo)",
		sameNumbers(result.geoTransform, expectedTransform ?? undefined),
		`${result.geoTransform} vs ${expectedTransform}`,
	);
	if (geoEdit) {
		// GDAL reports the source (PixelIsArea) grid; the same tiepoint read as a pixel centre
		// must move the origin half a pixel up and left.
		const [x0 = 0, dx = 0, , y0 = 0, , dy = 0] = source.geoTransform ?? [];
		const expected = [x0 - dx / 2, dx, 0, y0 - dy / 2, 0, dy];
		check(
			"PixelIsPoint: origin half a pixel up-left of the tiepoint",
			sameNumbers(result.geoTransform, expected),
			`${result.geoTransform} vs ${expected}`,
		);
	} else {
		check("geotransform equals the source's", sameNumbers(result.geoTransform, source.geoTransform));
	}
	check("pixels are byte-identical", gdalPixels(path).equals(Buffer.from(pixels.buffer)));
}

/** A file just over 4 GiB, sparse except for its header and last strip. */
async function checkBigTiff(): Promise<void> {
	console.log("\n# BigTIFF (sparse, just over 4 GiB)");
	const geo = await readFixture("s2_red_256.tif");
	const layout: Float32RasterLayout = {
		width: 65536,
		height: 16385,
		rowsPerStrip: 256,
		geo,
		description: "big",
	};
	const { header, stripByteCounts, totalBytes } = float32StripHeader(layout);
	check("needs BigTIFF", totalBytes > 2 ** 32 && new DataView(header.buffer).getUint16(2, true) === 43);
	const lastStripCount = stripByteCounts.at(-1) ?? 0;
	const lastStrip = syntheticPixels(lastStripCount / 4);
	const path = join(workDir, "bigtiff.tif");
	const fd = openSync(path, "w");
	writeSync(fd, header);
	writeSync(fd, Buffer.from(lastStrip.buffer), 0, lastStripCount, totalBytes - lastStripCount);
	ftruncateSync(fd, totalBytes);
	closeSync(fd);

	const result = gdalinfo(path);
	check("size", sameNumbers(result.size, [layout.width, layout.height]), `${result.size}`);
	check("type Float32", result.bands[0]?.type === "Float32");
	check("geotransform", sameNumbers(result.geoTransform, geotransformOf(geo) ?? undefined));
	const lastRow = layout.height - 1;
	check(
		"last row (past 4 GiB) is byte-identical",
		gdalPixels(path, [0, lastRow, layout.width, 1]).equals(
			Buffer.from(lastStrip.buffer, lastStripCount - layout.width * 4),
		),
	);
}

const workDir = mkdtempSync(join(tmpdir(), "gdal-writer-check-"));
try {
	console.log(gdal("gdalinfo", ["--version"]).trim());
	await checkFixture("s2_red_256.tif");
	await checkFixture("landsat_rn_float32.tif");
	await checkFixture("s2_red_256.tif", (geo) => {
		const directory = [...(geo.geoKeyDirectory ?? [])];
		const at = directory.findIndex((value, i) => i % 4 === 0 && i > 0 && value === 1025);
		if (at < 0) throw new Error("fixture has no GTRasterTypeGeoKey");
		directory[at + 3] = 2; // GTRasterTypeGeoKey = PixelIsPoint
		return { ...geo, geoKeyDirectory: directory };
	});
	await checkBigTiff();
} finally {
	rmSync(workDir, { recursive: true, force: true });
}
console.log(failures === 0 ? "\nall checks passed" : `\n${failures} check(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
