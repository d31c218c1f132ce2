/**
 * `npm run fuzz -- --iterations N --seed S`: mutates the GDAL fixtures (bit flips, truncations,
 * extreme values written over header fields, spliced blocks) and runs each mutant through the
 * worker's read path under Node: the structure check, geotiff.js's header parse, inspect, and
 * every row of the first and last band decoded as compute would.
 *
 * Each case ends as read, or refused with a RasterInputError (what the API reports as a 4xx
 * problem). Reported, and failing the run, is anything else: any other error (a malformation
 * met where nothing refuses it, which the pipeline would take for a fault of its own), a case
 * that takes longer than --timeout-ms (a hang), or one that exhausts a 512 MiB heap (an
 * allocation a header could force). Cases run in a child process that is replaced after a hang
 * or a crash, so one bad case does not end the run. The same seed always makes the same cases;
 * `--seed S --case N` reads case N alone and prints where an unclassified error was thrown.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { flipBits, layoutOf } from "../test/corpus/malformed-tiffs";
import { seededRandom } from "../test/random";

const FIXTURES = [
	"s2_red_256.tif",
	"s2_bgrn_300x200_lzw_striped.tif",
	"landsat_rn_float32.tif",
	"layouts/be_tiled16_red.tif",
	"layouts/bigtiff_red.tif",
	"layouts/lerc_zstd_red.tif",
	"layouts/lerc_deflate_red.tif",
	"layouts/packbits_tiled_red.tif",
	"layouts/zstd_red.tif",
	"layouts/lzw_pred2_red.tif",
	"layouts/deflate_pred3_red.tif",
	"layouts/sep_band.tif",
	"jpeg/jpeg_byte_256.tif",
	"jpeg/ycbcr_tiled.tif",
	"jpeg/ycbcr_strips.tif",
];
/** Values a hostile header would write over a field: boundaries of every width. */
const EXTREMES = [0, 1, 2, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff];
const HEAP_LIMIT_MB = 512;

interface CaseOutcome {
	index: number;
	name: string;
	outcome: "read" | "refused" | "unclassified";
	detail: string;
	/** Where an unclassified error was thrown; printed by a replay (--case). */
	stack?: string;
}

function fixtureBytes(): [string, Uint8Array][] {
	return FIXTURES.map((name) => [
		name,
		new Uint8Array(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url))),
	]);
}

/** Mutant `index` of a run: the same seed and index always give the same bytes. */
function mutant(fixtures: [string, Uint8Array][], seed: number, index: number): { name: string; bytes: Uint8Array } {
	const [fixture, bytes] = fixtures[index % fixtures.length] as [string, Uint8Array];
	const random = seededRandom(seed * 1_000_003 + index);
	const layout = layoutOf(bytes);
	const headerEnd = Math.min(bytes.length, layout.nextIfdAt + 1024);
	const pick = Math.floor(random() * 4);
	if (pick === 0) {
		const bits = 1 + Math.floor(random() * 16);
		return { name: `${fixture}: ${bits} bit flips in the header`, bytes: flipBits(bytes, random, bits, 0, headerEnd) };
	}
	if (pick === 1) {
		const at = Math.floor(random() * bytes.length);
		return { name: `${fixture}: truncated at ${at}`, bytes: bytes.slice(0, at) };
	}
	if (pick === 2) {
		const copy = bytes.slice();
		const data = new DataView(copy.buffer);
		const fields = 1 + Math.floor(random() * 3);
		for (let i = 0; i < fields; i++) {
			const at = Math.floor(random() * (headerEnd - 4));
			data.setUint32(at, EXTREMES[Math.floor(random() * EXTREMES.length)] as number, layout.littleEndian);
		}
		return { name: `${fixture}: ${fields} header fields set to extremes`, bytes: copy };
	}
	const copy = bytes.slice();
	const length = 1 + Math.floor(random() * 4096);
	const from = Math.floor(random() * (bytes.length - length));
	const to = Math.floor(random() * (bytes.length - length));
	copy.copyWithin(to, from, from + length);
	return { name: `${fixture}: ${length} bytes from ${from} copied over ${to}`, bytes: copy };
}

/** Reads a mutant as upload, validate and compute would; returns how it ended. */
async function readMutant(bytes: Uint8Array): Promise<Omit<CaseOutcome, "index" | "name">> {
	const [
		{ RangedSource, openRangedImage },
		{ inspectRaster },
		{ readWindow },
		{ SAMPLE_ARRAYS },
		{ RasterInputError },
		{ wranglerRasterLimits },
	] = await Promise.all([
		import("../src/raster/ranged-source"),
		import("../src/raster/inspect"),
		import("../src/raster/read"),
		import("../src/raster/samples"),
		import("../src/raster/input-errors"),
		import("./wrangler-vars"),
	]);
	const source = new RangedSource({
		size: bytes.length,
		read: async (offset, length) => bytes.slice(offset, offset + length).buffer,
	});
	try {
		const { image } = await openRangedImage(source, wranglerRasterLimits());
		const header = await inspectRaster(image);
		const bands = [...new Set([1, header.bands])];
		const rowsPerRead = Math.max(header.block_height, Math.floor((16 * 1024 * 1024) / (header.width * 8)));
		for (let row = 0; row < header.height; row += rowsPerRead) {
			const rowEnd = Math.min(header.height, row + rowsPerRead);
			const decoded = await readWindow(image, bands, { rowStart: row, rowEnd, colStart: 0, colEnd: header.width });
			// Copied out as compute copies them into its arena.
			decoded.sampleTypes.forEach((sampleType, position) => {
				decoded.copyBand(position, new SAMPLE_ARRAYS[sampleType]((rowEnd - row) * header.width));
			});
			decoded.release();
		}
		return { outcome: "read", detail: `${header.width} x ${header.height}, ${header.data_type}` };
	} catch (error) {
		if (error instanceof RasterInputError) return { outcome: "refused", detail: `${error.code}: ${error.message}` };
		const detail =
			error instanceof Error ? `${error.name}: ${error.message}` : `thrown ${typeof error}: ${String(error)}`;
		return { outcome: "unclassified", detail, stack: error instanceof Error ? error.stack : undefined };
	}
}

/** Installs the Worker's decoders. */
async function installCodecs(): Promise<void> {
	const [{ installDecoders }, { nodeCodecs }] = await Promise.all([
		import("../src/raster/decoders"),
		import("./node-codecs"),
	]);
	await installDecoders(await nodeCodecs());
}

/** The child: reads mutants [from, to) and reports each one's start and end to the parent. */
async function runCases(seed: number, from: number, to: number): Promise<void> {
	await installCodecs();
	const fixtures = fixtureBytes();
	const send = (message: object) => new Promise((resolve) => process.send?.(message, resolve));
	for (let index = from; index < to; index++) {
		const { name, bytes } = mutant(fixtures, seed, index);
		await send({ kind: "start", index, name });
		await send({ kind: "done", index, name, ...(await readMutant(bytes)) });
	}
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			iterations: { type: "string", default: "500" },
			seed: { type: "string", default: "1" },
			"timeout-ms": { type: "string", default: "10000" },
			case: { type: "string" },
		},
	});
	const iterations = Number(values.iterations);
	const seed = Number(values.seed);
	if (values.case !== undefined) return replay(seed, Number(values.case));
	const timeoutMs = Number(values["timeout-ms"]);
	const counts = new Map<string, number>();
	const reported: CaseOutcome[] = [];
	const record = (result: CaseOutcome) => {
		counts.set(result.outcome, (counts.get(result.outcome) ?? 0) + 1);
		if (result.outcome === "unclassified") reported.push(result);
	};

	let next = 0;
	while (next < iterations) {
		next = await new Promise<number>((resolve, reject) => {
			const child = fork(fileURLToPath(import.meta.url), ["--child", String(seed), String(next), String(iterations)], {
				execArgv: [...process.execArgv, `--max-old-space-size=${HEAP_LIMIT_MB}`],
				stdio: ["ignore", "inherit", "pipe", "ipc"],
			});
			let stderr = "";
			child.stderr?.on("data", (chunk: Buffer) => {
				stderr = (stderr + chunk.toString()).slice(-2000);
			});
			let current: { index: number; name: string } | null = null;
			let timer: NodeJS.Timeout | undefined;
			const arm = () => {
				clearTimeout(timer);
				timer = setTimeout(() => {
					child.kill("SIGKILL");
					if (current)
						record({ ...current, outcome: "unclassified", detail: `no result within ${timeoutMs} ms (a hang)` });
				}, timeoutMs);
			};
			arm();
			child.on("message", (message: { kind: string } & CaseOutcome) => {
				if (message.kind === "start") {
					current = { index: message.index, name: message.name };
					arm();
				} else {
					record(message);
					current = null;
				}
			});
			child.on("exit", (code, signal) => {
				clearTimeout(timer);
				if (code === 0) return resolve(iterations);
				// A child that dies before its first case cannot run any: stop rather than report each.
				if (current === null && counts.size === 0)
					return reject(new Error(`the fuzz child failed to start:\n${stderr}`));
				if (current !== null && signal !== "SIGKILL") {
					record({
						...current,
						outcome: "unclassified",
						detail: `the process died (${signal ?? code}): ${stderr.trim()}`,
					});
				}
				resolve((current?.index ?? next) + 1);
			});
		});
	}

	for (const result of reported) console.log(`UNCLASSIFIED #${result.index} ${result.name}\n  ${result.detail}`);
	const summary = Object.fromEntries([...counts.entries()].sort());
	console.log(JSON.stringify({ iterations, seed, ...summary }));
	process.exitCode = reported.length === 0 ? 0 : 1;
}

/** Reads one mutant in this process and prints how it ended, with the stack of an unclassified error. */
async function replay(seed: number, index: number): Promise<void> {
	await installCodecs();
	const { name, bytes } = mutant(fixtureBytes(), seed, index);
	const { outcome, detail, stack } = await readMutant(bytes);
	console.log(`#${index} ${name}: ${outcome}\n  ${stack ?? detail}`);
	process.exitCode = outcome === "unclassified" ? 1 : 0;
}

const [flag, seedArg, fromArg, toArg] = process.argv.slice(2);
if (flag === "--child") await runCases(Number(seedArg), Number(fromArg), Number(toArg));
else await main();
