/**
 * Writes test/fixtures/corpus-gdal-decodes.json: what GDAL decodes from band 1 of every case of
 * the hostile corpus (test/corpus/malformed-tiffs.ts), so that a job that succeeds on a corrupt
 * file can be checked pixel by pixel against GDAL (test/integration/hostile-rasters.test.ts).
 * For each fixture: its clean decode's SHA-256 (float32 samples, NaN where they equal
 * CORPUS_JOB_NODATA, as a corpus job writes them). For each case: null when GDAL cannot read it (or it is too
 * large to decode here), else the runs of pixels where GDAL's decode differs from the clean one:
 * [first pixel, pixel count, sample] when they all hold one sample (a block filled with nodata),
 * else [first pixel, base64 of little-endian float32 samples]; or "many" when the latter would
 * hold more than MAX_CHANGED pixels.
 *
 * Needs GDAL's Python bindings (Debian: python3-gdal). Each case is decoded in a Python that is
 * restarted if GDAL crashes on one. Run: npx tsx test/corpus/gdal-decodes.ts
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CORPUS_FIXTURES, CORPUS_JOB_NODATA, CORPUS_SEED, malformedTiffs } from "./malformed-tiffs";

/** Past this many changed pixels of differing samples a case's decode is not stored. */
const MAX_CHANGED = 20_000;
const FIXTURES = join(import.meta.dirname, "..", "fixtures");

/** Decodes files[from..] one by one, writing each readable one's band 1 as <path>.f64. */
const DECODER = `
import sys
import numpy as np
from osgeo import gdal
gdal.UseExceptions()
gdal.PushErrorHandler('CPLQuietErrorHandler')
paths = sys.argv[1:]
for path in paths:
    print('start', flush=True)
    try:
        ds = gdal.Open(path)
        band = ds.GetRasterBand(1)
        columns, rows = band.GetBlockSize()
        if ds.RasterXSize * ds.RasterYSize > 4000000 or columns * rows > 4000000:
            raise Exception('too large to decode here')
        band.ReadAsArray().astype('<f8').tofile(path + '.f64')
        print('read', flush=True)
    except Exception:
        print('unreadable', flush=True)
`;

function gdalDecodes(paths: string[]): (Float64Array | null)[] {
	const outcomes: (Float64Array | null)[] = [];
	while (outcomes.length < paths.length) {
		const rest = paths.slice(outcomes.length);
		const run = spawnSync("/usr/bin/python3", ["-c", DECODER, ...rest], { encoding: "utf8" });
		const lines = run.stdout.split("\n").filter((line) => line !== "" && line !== "start");
		for (const [i, line] of lines.entries()) {
			const path = rest[i] as string;
			outcomes.push(line === "read" ? new Float64Array(readFileSync(`${path}.f64`).buffer) : null);
		}
		// GDAL crashed on the next case: it counts as unreadable, and the rest run in a new process.
		if (run.status !== 0 && outcomes.length < paths.length) outcomes.push(null);
	}
	return outcomes;
}

/** The samples as a corpus job's identity formula writes them: float32, NaN where nodata. */
function asOutput(samples: ArrayLike<number>): Float32Array {
	return Float32Array.from(samples, (value) => (value === CORPUS_JOB_NODATA ? Number.NaN : value));
}

function main(): void {
	const fixtures = Object.fromEntries(
		CORPUS_FIXTURES.map((name) => [name, new Uint8Array(readFileSync(join(FIXTURES, name)))]),
	);
	const cases = malformedTiffs(fixtures, { seed: CORPUS_SEED });
	const scratch = mkdtempSync(join(tmpdir(), "corpus-"));
	try {
		// Copies, as the decoder writes its output beside each file.
		const paths = CORPUS_FIXTURES.map((name, i) => {
			const path = join(scratch, `clean-${i}.tif`);
			writeFileSync(path, fixtures[name] as Uint8Array);
			return path;
		});
		cases.forEach(({ bytes }, i) => {
			const path = join(scratch, `${i}.tif`);
			writeFileSync(path, bytes);
			paths.push(path);
		});
		const decodes = gdalDecodes(paths);
		const clean = new Map(CORPUS_FIXTURES.map((name, i) => [name, decodes[i]]));
		const decoded: Record<string, null | "many" | ([number, string] | [number, number, number])[]> = {};
		cases.forEach(({ name }, i) => {
			const samples = decodes[CORPUS_FIXTURES.length + i];
			const reference = clean.get(name.slice(0, name.indexOf(": ")) as (typeof CORPUS_FIXTURES)[number]);
			if (!samples || !reference) {
				decoded[name] = null;
				return;
			}
			const runs: [number, number[]][] = [];
			for (let pixel = 0; pixel < Math.max(samples.length, reference.length); pixel++) {
				if (Object.is(samples[pixel], reference[pixel])) continue;
				const last = runs.at(-1);
				if (last && last[0] + last[1].length === pixel) last[1].push(samples[pixel] ?? Number.NaN);
				else runs.push([pixel, [samples[pixel] ?? Number.NaN]]);
			}
			const uniform = (values: number[]) => values.every((value) => Object.is(value, values[0]));
			const varied = runs.reduce((sum, [, values]) => sum + (uniform(values) ? 0 : values.length), 0);
			decoded[name] =
				varied > MAX_CHANGED
					? "many"
					: runs.map(([first, values]) =>
							uniform(values)
								? [first, values.length, values[0] ?? Number.NaN]
								: [first, Buffer.from(Float32Array.from(values).buffer).toString("base64")],
						);
		});
		const digests = Object.fromEntries(
			CORPUS_FIXTURES.map((name) => {
				const samples = clean.get(name);
				if (!samples) throw new Error(`GDAL cannot read ${name}`);
				const output = asOutput(samples);
				return [name, createHash("sha256").update(new Uint8Array(output.buffer)).digest("hex")];
			}),
		);
		const about =
			"Written by test/corpus/gdal-decodes.ts with GDAL 3.6.2: band 1 of every hostile corpus case as GDAL decodes it, as changes from the clean fixture's decode (null: GDAL cannot read it; 'many': more than 20000 pixels change).";
		writeFileSync(
			join(FIXTURES, "corpus-gdal-decodes.json"),
			`${JSON.stringify({ about, seed: CORPUS_SEED, clean_sha256: digests, cases: decoded }, null, "\t")}\n`,
		);
	} finally {
		rmSync(scratch, { recursive: true, force: true });
	}
}

if (process.argv[1] === import.meta.filename) main();
