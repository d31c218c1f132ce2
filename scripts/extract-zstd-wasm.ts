// Writes wasm/build/zstd.wasm: the Zstandard decoder that the zstddec package embeds as
// base64. Workers may not compile Wasm from bytes at run time, so the module is extracted
// here, at build time, and imported by the Worker as a compiled module (src/wasm/codecs.ts).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const glue = await readFile(require.resolve("zstddec"), "utf8");
const embedded = /(?:const|var) wasm = '([A-Za-z0-9+/=]+)'/.exec(glue)?.[1];
if (!embedded) throw new Error("zstddec no longer embeds its Wasm as a base64 string; update this script");
const bytes = Buffer.from(embedded, "base64");
if (!WebAssembly.validate(bytes)) throw new Error("the Wasm embedded in zstddec does not validate");
await mkdir(new URL("../wasm/build/", import.meta.url), { recursive: true });
await writeFile(new URL("../wasm/build/zstd.wasm", import.meta.url), bytes);
