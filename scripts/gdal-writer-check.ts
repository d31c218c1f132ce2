/**
 * Checks result.tif's COG layout against GDAL itself: for real GDAL-written fixtures it writes
 * a COG the way the store stage does (header and IFDs, then the overviews' tiles smallest
 * first, then the full resolution), asks `gdalinfo -json` for CRS, geotransform, size, type,
 * nodata, band description and overviews, runs GDAL's own COG validator
 * (`validate_cloud_optimized_geotiff.py --full-check=yes`: IFDs before data, tiles in order,
 * overviews present) and reads every level back with `gdal_translate -of ENVI` to compare the
 * pixels byte for byte. A PixelIsPoint variant checks geotransformOf against GDAL's half-pixel
 * convention, a file assembled as store's invocations assemble it (overview blocks, layout,
 * parts) is checked the same way, and a sparse file over 4 GiB checks the BigTIFF path.
 * Each integer output type (src/raster/output-type.ts) is written from a real NDVI and checked
 * for its GDAL type, nodata, scale and offset, and for values within scale / 2 at every level
 * (`gdal_translate -unscale` at full resolution); the sizes of the files are printed.
 *
 * Needs GDAL's command-line tools and Python bindings (Debian: apt-get install gdal-bin
 * python3-gdal). Exits non-zero on any mismatch. Usage: npm run test:gdal
 */
import { spawnSync } from "node:child_process";
import {
	closeSync,
	ftruncateSync,
	mkdtempSync,
	openSync,
	readFileSync,
	rmSync,
	writeFileSync,
	writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromArrayBuffer } from "geotiff";
import { type CogLayout, cogHeader, cogLevels } from "../src/raster/cog-writer";
import { type GeoReference, geotransformOf, readGeoReference } from "../src/raster/georeference";
import { FLOAT32_OUTPUT, type OutputOptions, outputTypes, unscale } from "../src/raster/output-type";
import { encodeTiles } from "../src/raster/tiles";
import { tileEncoder } from "../src/wasm/index";
import { assembleCog } from "../test/cog";
import { assembleAsStore } from "../test/store-windows";

const FIXTURES = join(import.meta.dirname, "..", "test", "fixtures");

interface GdalInfo {
	size: [number, number];
	geoTransform?: number[];
	coordinateSystem?: { wkt: string };
	bands: {
		type: string;
		description?: string;
		noDataValue?: number | string;
		scale?: number;
		offset?: number;
		overviews?: { size: [number, number] }[];
	}[];
}

let failures = 0;

function check(label: string, ok: boolean, detail = ""): void {
	if (!ok) failures++;
	console.log(`${ok ? "ok  " : "FAIL"} ${label}${ok || detail === "" ? "" : `: ${detail}`}`);
}

/** Runs a tool; anything it says on stderr (a TIFF warning, say) counts as a failure. */
function run(tool: string, args: string[]): string {
	const result = spawnSync(tool, args, { encoding: "utf8" });
	if (result.error) throw result.error;
	check(
		`${tool} ${args.at(-1)}: exit 0, no warnings`,
		result.status === 0 && result.stderr === "",
		result.stderr.trim(),
	);
	return result.stdout;
}

function gdalinfo(path: string): GdalInfo {
	return JSON.parse(run("gdalinfo", ["-json", path])) as GdalInfo;
}

/**
 * Pixels of one level (-1: full resolution) as GDAL decodes them: raw little-endian samples,
 * or with `options` (e.g. `-unscale -ot Float32`) as gdal_translate converts them.
 */
function gdalPixels(
	path: string,
	overview: number,
	window?: [number, number, number, number],
	options: string[] = [],
): Buffer {
	const out = `${path}.${overview}.raw`;
	const srcwin = window ? ["-srcwin", ...window.map(String)] : [];
	const level = overview >= 0 ? ["-oo", `OVERVIEW_LEVEL=${overview}`] : [];
	run("gdal_translate", ["-q", "-of", "ENVI", ...options, ...level, ...srcwin, path, out]);
	return readFileSync(out);
}

/** GDAL's COG validator, from the Python bindings (Debian's python3-gdal ships it). */
function validateCog(path: string): void {
	const result = spawnSync(
		"/usr/bin/python3",
		["-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", "--full-check=yes", path],
		{ encoding: "utf8" },
	);
	if (result.error) throw result.error;
	check(
		"validate_cloud_optimized_geotiff --full-check=yes: valid",
		result.status === 0 && result.stdout.includes("is a valid cloud optimized GeoTIFF"),
		`${result.stdout.trim()} ${result.stderr.trim()}`,
	);
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

function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
	return a !== undefined && b !== undefined && a.length === b.length && a.every((value, i) => value === b[i]);
}

function isNanNodata(value: number | string | undefined): boolean {
	return typeof value === "string" ? value.toLowerCase() === "nan" : Number.isNaN(value);
}

async function checkFixture(
	name: string,
	size: [number, number],
	geoEdit?: (geo: GeoReference) => GeoReference,
): Promise<void> {
	const label = `${name} as a ${size[0]} x ${size[1]} COG${geoEdit ? " (PixelIsPoint)" : ""}`;
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

	const layout: CogLayout = { width: size[0], height: size[1], geo, description: `NDVI of ${name}` };
	const { file, levels } = await assembleCog(layout, syntheticPixels(layout.width * layout.height));
	const path = join(workDir, `${label.replace(/\W+/g, "_")}.tif`);
	writeFileSync(path, file);

	const result = gdalinfo(path);
	const band = result.bands[0];
	check("size", sameNumbers(result.size, [layout.width, layout.height]), `${result.size}`);
	check("one band of type Float32", result.bands.length === 1 && band?.type === "Float32", `${band?.type}`);
	check("nodata is NaN", isNanNodata(band?.noDataValue), `${band?.noDataValue}`);
	check("band description", band?.description === layout.description, `${band?.description}`);
	const overviews = (band?.overviews ?? []).map((overview) => overview.size.join("x"));
	const expectedOverviews = levels.slice(1).map((level) => `${level.width}x${level.height}`);
	check(
		"gdalinfo lists the overviews",
		overviews.join() === expectedOverviews.join(),
		`${overviews} vs ${expectedOverviews}`,
	);
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
	validateCog(path);
	levels.forEach((level, index) => {
		check(
			`level ${index} pixels are byte-identical`,
			gdalPixels(path, index - 1).equals(
				Buffer.from(level.values.buffer, level.values.byteOffset, level.values.byteLength),
			),
		);
	});
}

/**
 * result.tif as store's invocations make it: the windows' outputs, the overview tree's blocks
 * (of one tile, so every level below the top has several), the layout, and the file joined from
 * parts read as the part invocations read them; checked by GDAL and against the serial file.
 */
async function checkStoreAssembly(): Promise<void> {
	console.log("\n# result.tif assembled as store's invocations make it (2600 x 2250, 1024 x 1536 windows)");
	const geo = await readFixture("s2_red_256.tif");
	const [width, height] = [2600, 2250];
	const values = syntheticPixels(width * height);
	const description = "NDVI assembled in parts";
	const file = await assembleAsStore(
		{ values, width, height },
		{ geo, description, rows: 1024, columns: 1536, blockTiles: 1, partBytes: 5 * 1024 * 1024 },
	);
	const { file: serial, levels } = await assembleCog({ width, height, geo, description }, values);
	check("byte-identical to the serial assembly", Buffer.from(file).equals(Buffer.from(serial)));
	const path = join(workDir, "store-assembly.tif");
	writeFileSync(path, file);
	const result = gdalinfo(path);
	check("size", sameNumbers(result.size, [width, height]), `${result.size}`);
	check("overviews listed", (result.bands[0]?.overviews ?? []).length === levels.length - 1);
	validateCog(path);
	levels.forEach((level, index) => {
		check(
			`level ${index} pixels are byte-identical`,
			gdalPixels(path, index - 1).equals(
				Buffer.from(level.values.buffer, level.values.byteOffset, level.values.byteLength),
			),
		);
	});
}

/** A COG over 4 GiB, sparse except for its header and its last tile. */
async function checkBigTiff(): Promise<void> {
	console.log("\n# BigTIFF (sparse, over 4 GiB)");
	const geo = await readFixture("s2_red_256.tif");
	const layout: CogLayout = { width: 65536, height: 16384, geo, description: "big" };
	const levels = cogLevels(layout.width, layout.height);
	const lastTile = syntheticPixels(512 * 512);
	const { bytes: encoded } = encodeTiles({ values: lastTile, width: 512, height: 512 }, tileEncoder);
	// Tiles nobody reads are declared 1.1 MB each (holes in the file); the last one is real.
	const counts = levels.map((level) => new Array<number>(level.tilesAcross * level.tilesDown).fill(1_100_000));
	counts[0]?.splice(-1, 1, encoded.byteLength);
	const { header, totalBytes, bigTiff } = cogHeader(layout, counts);
	check("needs BigTIFF", bigTiff && totalBytes > 2 ** 32 && new DataView(header.buffer).getUint16(2, true) === 43);
	const path = join(workDir, "bigtiff.tif");
	const fd = openSync(path, "w");
	writeSync(fd, header);
	writeSync(fd, encoded, 0, encoded.byteLength, totalBytes - encoded.byteLength);
	ftruncateSync(fd, totalBytes);
	closeSync(fd);

	const result = gdalinfo(path);
	check("size", sameNumbers(result.size, [layout.width, layout.height]), `${result.size}`);
	check("type Float32", result.bands[0]?.type === "Float32");
	check("overviews listed", (result.bands[0]?.overviews ?? []).length === levels.length - 1);
	check("geotransform", sameNumbers(result.geoTransform, geotransformOf(geo) ?? undefined));
	check(
		"last tile (past 4 GiB) is byte-identical",
		gdalPixels(path, -1, [layout.width - 512, layout.height - 512, 512, 512]).equals(Buffer.from(lastTile.buffer)),
	);
}

/**
 * The fixtures' Sentinel-2 NDVI (test/fixtures/ndvi_s2_256.f32, 256 x 256) repeated over
 * `width` x `height`, mirrored at every repeat so the values stay continuous: a real index's
 * values and noise, on a raster large enough for overviews.
 */
function ndviRaster(width: number, height: number): Float32Array {
	const bytes = readFileSync(join(FIXTURES, "ndvi_s2_256.f32"));
	const ndvi = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
	const mirrored = (i: number) => (Math.floor(i / 256) % 2 === 0 ? i % 256 : 255 - (i % 256));
	return Float32Array.from({ length: width * height }, (_, i) => {
		const x = i % width;
		const y = Math.floor(i / width);
		return ndvi[mirrored(y) * 256 + mirrored(x)] as number;
	});
}

/**
 * result.tif in each integer output type (float32 is checked above), from a real NDVI: GDAL's
 * type, nodata, scale and offset, the COG validator, and every level within scale / 2 of the
 * float values (nodata where they are NaN). Prints each file's size beside float32's.
 */
async function checkOutputTypes(): Promise<void> {
	const geo = await readFixture("s2_red_256.tif");
	const [width, height] = [1100, 700];
	const values = ndviRaster(width, height);
	const float32Bytes = (await assembleCog({ width, height, geo }, values)).file.byteLength;
	const cases: OutputOptions[] = [
		{ data_type: "int16", scale: 0.0001, offset: 0 },
		{ data_type: "uint16", scale: 0.0001, offset: -1 },
		{ data_type: "uint8", scale: 0.01, offset: -1.27 },
	];
	for (const output of cases) {
		const label = `${output.data_type} x ${output.scale} + ${output.offset}`;
		console.log(`\n# NDVI as ${label} (${width} x ${height})`);
		const type = outputTypes[output.data_type];
		const { file, levels } = await assembleCog({ width, height, geo, description: "NDVI", output }, values);
		const path = join(workDir, `ndvi-${output.data_type}.tif`);
		writeFileSync(path, file);
		console.log(
			`     ${file.byteLength} bytes, ${((100 * file.byteLength) / float32Bytes).toFixed(1)}% of float32's ${float32Bytes}`,
		);
		const band = gdalinfo(path).bands[0];
		check(`type ${type.gdalName}`, band?.type === type.gdalName, `${band?.type}`);
		check(`nodata ${type.nodata}`, band?.noDataValue === type.nodata, `${band?.noDataValue}`);
		check(
			`scale ${output.scale}, offset ${output.offset}`,
			band?.scale === output.scale && band?.offset === output.offset,
			`${band?.scale}, ${band?.offset}`,
		);
		check("band description", band?.description === "NDVI", `${band?.description}`);
		validateCog(path);
		const scaling = { nodata: type.nodata, scale: band?.scale ?? 1, offset: band?.offset ?? 0 };
		levels.forEach((level, index) => {
			let unscaled: Float32Array;
			if (index === 0) {
				// gdal_translate -unscale keeps the nodata sample as it is: made NaN here.
				const raw = gdalPixels(path, -1, undefined, ["-unscale", "-ot", "Float32"]);
				const read = new Float32Array(new Uint8Array(raw).buffer);
				unscaled = unscale(read, { ...scaling, scale: 1, offset: 0 });
			} else {
				// GDAL gives overview bands no scale or offset (as in the COGs it writes itself): the
				// level's samples, unscaled with the band's GetScale() and GetOffset().
				const raw = gdalPixels(path, index - 1);
				unscaled = unscale(type.view(new Uint8Array(raw).buffer, 0, level.values.length), scaling);
			}
			let largest = 0;
			let misplacedNodata = 0;
			level.values.forEach((value, i) => {
				const read = unscaled[i] as number;
				if (Number.isNaN(value) || Number.isNaN(read))
					misplacedNodata += Number.isNaN(value) === Number.isNaN(read) ? 0 : 1;
				else largest = Math.max(largest, Math.abs(read - value));
			});
			check(
				`level ${index}: ${index === 0 ? "-unscale gives" : "samples x scale + offset give"} the values within scale / 2, nodata where they are NaN`,
				unscaled.length === level.values.length && misplacedNodata === 0 && largest <= output.scale / 2 + 1e-6,
				`${misplacedNodata} nodata misplaced, largest difference ${largest}`,
			);
		});
	}
	const ndvi = ndviRaster(256, 256);
	const float32 = (await assembleCog({ width: 256, height: 256, geo, output: FLOAT32_OUTPUT }, ndvi)).file.byteLength;
	const int16Output: OutputOptions = { data_type: "int16", scale: 0.0001, offset: 0 };
	const int16 = (await assembleCog({ width: 256, height: 256, geo, output: int16Output }, ndvi)).file.byteLength;
	console.log(
		`\nndvi_s2_256 itself: float32 ${float32} bytes, int16 x 0.0001 ${int16} bytes (${((100 * int16) / float32).toFixed(1)}%)`,
	);
}

const workDir = mkdtempSync(join(tmpdir(), "gdal-writer-check-"));
try {
	console.log(run("gdalinfo", ["--version"]).trim());
	await checkFixture("s2_red_256.tif", [256, 256]);
	await checkFixture("s2_red_256.tif", [1100, 700]);
	await checkFixture("landsat_rn_float32.tif", [1030, 1200]);
	await checkFixture("s2_red_256.tif", [600, 520], (geo) => {
		const directory = [...(geo.geoKeyDirectory ?? [])];
		const at = directory.findIndex((value, i) => i % 4 === 0 && i > 0 && value === 1025);
		if (at < 0) throw new Error("fixture has no GTRasterTypeGeoKey");
		directory[at + 3] = 2; // GTRasterTypeGeoKey = PixelIsPoint
		return { ...geo, geoKeyDirectory: directory };
	});
	await checkStoreAssembly();
	await checkBigTiff();
	await checkOutputTypes();
} finally {
	rmSync(workDir, { recursive: true, force: true });
}
console.log(failures === 0 ? "\nall checks passed" : `\n${failures} check(s) failed`);
process.exitCode = failures === 0 ? 0 : 1;
