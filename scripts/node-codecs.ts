/**
 * The Worker's codecs for tools that run the raster-reading modules under Node (the decode
 * bench, the fuzzer): the same Wasm build, compiled from wasm/build/ rather than imported as a
 * module, one instance for the tool's life.
 */
import { readFile } from "node:fs/promises";
import type { Codecs } from "../src/raster/decoders";
import { zstdNative } from "../src/raster/zstd";
import { codecsOf, createBlockDecoder } from "../src/wasm/decode";

async function compiled(name: string): Promise<WebAssembly.Module> {
	return WebAssembly.compile(await readFile(new URL(`../wasm/build/${name}`, import.meta.url)));
}

export async function nodeCodecs(): Promise<Codecs> {
	const decoder = createBlockDecoder(await compiled("decode.wasm"));
	return codecsOf(() => decoder, zstdNative);
}
