import { readFile } from "node:fs/promises";
import { fromArrayBuffer, getDecoder } from "geotiff";
import { decodeLzw } from "../src/raster/lzw";

const buf = await readFile(`/tmp/wt5bench/lzw.tif`);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
const image = await (await fromArrayBuffer(ab)).getImage();
const offs = await image.fileDirectory.loadValue("TileOffsets");
const cnts = await image.fileDirectory.loadValue("TileByteCounts");
const tiles = Array.from({ length: 64 }, (_, i) => new Uint8Array(ab, Number(offs[i]), Number(cnts[i])));
const ref = await getDecoder(5, {
	tileWidth: 512,
	tileHeight: 512,
	predictor: 1,
	bitsPerSample: 16,
	planarConfiguration: 1,
});
for (const tile of tiles.slice(0, 4)) {
	const a = new Uint8Array(await ref.decode(tile.slice().buffer));
	const b = decodeLzw(tile, 512 * 512 * 2);
	if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error("mismatch");
}
for (let r = 0; r < 3; r++) {
	const t = performance.now();
	for (const tile of tiles) decodeLzw(tile, 512 * 512 * 2);
	const ms = performance.now() - t;
	console.log("lzw", ((64 * 512 * 512) / 1e6 / (ms / 1000)).toFixed(1), "Mpx/s");
}
