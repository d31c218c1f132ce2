/**
 * The Worker's codecs for tools that run the raster-reading modules under Node (the decode
 * bench, the fuzzer): the same Wasm builds, compiled from wasm/build/ rather than imported as
 * modules, one instance each for the tool's life.
 */
import { readFile } from "node:fs/promises";
import type { Codecs } from "../src/raster/decoders";
import { codecsOf, createBlockDecoder } from "../src/wasm/decode";
import { createZstdDecode } from "../src/wasm/zstd";

async function compiled(name: string): Promise<WebAssembly.Module> {
	return WebAssembly.compile(await readFile(new URL(`../wasm/build/${name}`, import.meta.url)));
}

export async function nodeCodecs(): Promise<Codecs> {
	const decoder = createBlockDecoder(await compiled("decode.wasm"));
	const zstd = createZstdDecode(await compiled("zstd.wasm"));
	return codecsOf(
		() => decoder,
		() => zstd,
	);
}
