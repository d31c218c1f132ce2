/**
 * bench:decode's reads inside workerd, the Workers runtime, with the Worker's own decoders (its
 * Wasm modules imported as modules, as in src/worker.ts). workerd's clock stands still while a
 * Worker runs, so bench/decode.bench.ts times requests of n reads from outside:
 *
 * - `GET /v1/health`: 200 once it runs (scripts/dev-server.ts waits for it);
 * - `PUT /files/{name}`: the file to read, kept in this isolate;
 * - `GET /reads/{name}?n=N`: N reads of its first `rows` rows (bench/decode-read.ts);
 * - `GET /pixels/{name}`: one read's samples, which the bench checks against GDAL's.
 *
 * With `zstd=runtime`, ZSTD blocks decode through the runtime's own zstd (node:zlib's
 * zstdDecompressSync) rather than zstd's Wasm: the reference for what a native zstd gives a
 * Worker (see docs/inputs.md for why EO Edge does not use it).
 */
import { zstdDecompressSync } from "node:zlib";
import { installDecoders } from "../src/raster/decoders";
import { rasterLimits } from "../src/raster/limits";
import type { SampleArray } from "../src/raster/samples";
import { workerBlockDecoder, workerCodecs } from "../src/wasm/codecs";
import { codecsOf } from "../src/wasm/decode";
import { windowReader } from "./decode-read";

// Only the bench's tiles go through it, and their pixels are checked against GDAL's: it bounds
// the output by maxBytes but, unlike the Worker's decoder, does not insist on the exact size.
const runtimeZstd = codecsOf(workerBlockDecoder, () => (input, maxBytes) => {
	const decoded = zstdDecompressSync(input, { maxOutputLength: maxBytes });
	return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
});

const readers = new Map<string, () => Promise<SampleArray>>();

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/v1/health") return new Response("ok");
		const [, route, name = ""] = url.pathname.split("/");
		if (request.method === "PUT" && route === "files") {
			const rows = Number(url.searchParams.get("rows"));
			readers.set(name, windowReader(await request.arrayBuffer(), rows, rasterLimits(env)));
			return new Response(null, { status: 204 });
		}
		const read = readers.get(name);
		if (!read) return new Response(`no file ${name}`, { status: 404 });
		await installDecoders(url.searchParams.get("zstd") === "runtime" ? runtimeZstd : workerCodecs);
		if (route === "pixels") {
			const band = await read();
			return new Response(new Uint8Array(band.buffer as ArrayBuffer, band.byteOffset, band.byteLength));
		}
		const reads = Number(url.searchParams.get("n"));
		for (let i = 0; i < reads; i++) await read();
		return new Response(null, { status: 204 });
	},
};
