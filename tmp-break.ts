import { readFile } from "node:fs/promises";
import { fromArrayBuffer } from "geotiff";
import { createBlockDecoder } from "./src/wasm/decode";
import { createZstdDecode } from "./src/wasm/zstd";
const dir = "/work/main/artifacts/bench-decode/";
const decoder = createBlockDecoder(await WebAssembly.compile(await readFile("/work/main/wasm/build/decode.wasm")));
const zstd = createZstdDecode(await WebAssembly.compile(await readFile("/work/main/wasm/build/zstd.wasm")));
for (const name of [] as string[]) {
  const bytes = await readFile(dir + name + ".tif");
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const img = await (await fromArrayBuffer(ab)).getImage();
  const fd:any = img.fileDirectory; const offs = fd.TileOffsets ?? fd.getValue?.("TileOffsets"), cnts = fd.TileByteCounts ?? fd.getValue?.("TileByteCounts"); console.log(Object.keys(fd).slice(0,10));
  const tiles: Uint8Array[] = [];
  for (let i = 0; i < 16; i++) tiles.push(new Uint8Array(ab, offs[i], cnts[i]));
  const diff = { rowSamples: 512, stride: 1, bytesPerSample: 2 } as any;
  const run = (withDiff: boolean) => {
    for (const t of tiles) {
      if (name === "deflate") { const b = decoder.keptInflate(t, 512*512*2, withDiff ? diff : null); b.free(); }
      else if (name === "lzw") { const b = decoder.keptLzw(t, 512*512*2, withDiff ? diff : null); b.free(); }
      else { const b = zstd(t, 512*512*2, true); }
    }
  };
  for (let i = 0; i < 40; i++) run(false);
  for (const wd of [false, true]) {
    const ts: number[] = [];
    for (let i = 0; i < 15; i++) { const s = performance.now(); run(wd); ts.push(performance.now() - s); }
    ts.sort((a, b) => a - b);
    console.log(name, wd ? "with predictor" : "inflate only", ts[7].toFixed(2), "ms", (16*512*512/1e3/ts[7]).toFixed(1), "Mpx/s");
  }
}
import { openRangedImage, RangedSource } from "./src/raster/ranged-source";
import { readWindow } from "./src/raster/read";
import { installDecoders } from "./src/raster/decoders";
import { nodeCodecs } from "./scripts/node-codecs";
import { wranglerRasterLimits } from "./scripts/wrangler-vars";
installDecoders(await nodeCodecs());
const limits = wranglerRasterLimits();
for (const name of ["deflate"]) {
  const bytes = await readFile(dir + name + ".tif");
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const answers = new Map<string, ArrayBuffer>();
  const dest = new Uint16Array(1024 * 4096);
  const t = { open: [] as number[], read: [] as number[], copy: [] as number[] };
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    const source = new RangedSource({ size: file.byteLength, read: async (o, l) => { const k = o + ":" + l; let x = answers.get(k); if (!x) { x = file.slice(o, o + l); answers.set(k, x); } return x; } });
    const { image } = await openRangedImage(source, limits);
    const b = performance.now();
    const decoded = await readWindow(image, [1], { rowStart: 0, rowEnd: 1024, colStart: 0, colEnd: 4096 });
    const c = performance.now();
    decoded.copyBand(0, dest); decoded.release();
    const d = performance.now();
    if (i >= 20) { t.open.push(b - a); t.read.push(c - b); t.copy.push(d - c); }
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[10].toFixed(2);
  console.log(name, "open", med(t.open), "read", med(t.read), "copy", med(t.copy));
}
