/**
 * Writes a whole COG in memory the way store streams one: the header from cogHeader, then the
 * encoded tiles of every level, smallest first, as `layout.output`'s samples. For tests and
 * the GDAL check, where a raster is small enough to hold. `levels` are the float values of each
 * level, before quantisation.
 */
import { type CogLayout, cogHeader, cogLevels } from "../src/raster/cog-writer";
import { encodeTiles, type FloatRaster, halve } from "../src/raster/tiles";
import { encodeTile } from "../src/wasm/index";

export async function assembleCog(
	layout: CogLayout,
	values: Float32Array,
): Promise<{ file: Uint8Array; levels: FloatRaster[] }> {
	const levels: FloatRaster[] = [{ values, width: layout.width, height: layout.height }];
	while (levels.length < cogLevels(layout.width, layout.height).length) {
		levels.push(halve(levels.at(-1) as FloatRaster));
	}
	const tiles = levels.map((level) => encodeTiles(level, encodeTile, layout.output));
	const { header, totalBytes } = cogHeader(
		layout,
		tiles.map((level) => level.map((tile) => tile.byteLength)),
	);
	const file = new Uint8Array(totalBytes);
	file.set(header);
	let offset = header.length;
	for (const tile of tiles.toReversed().flat()) {
		file.set(tile, offset);
		offset += tile.byteLength;
	}
	return { file, levels };
}
