/**
 * Writes a whole COG in memory the way store streams one: the header from cogHeader, then the
 * encoded tiles of every level, smallest first, as `layout.output`'s samples. For tests and
 * the GDAL check, where a raster is small enough to hold. `levels` are the float values of each
 * level, before quantisation.
 */
import { type CogLayout, cogHeader, cogLevels } from "../src/raster/cog-writer";
import { encodeRasters, type FloatRaster, halve } from "../src/raster/tiles";
import { tileEncoder } from "../src/wasm/index";

export async function assembleCog(
	layout: CogLayout,
	values: Float32Array,
): Promise<{ file: Uint8Array; levels: FloatRaster[] }> {
	const levels: FloatRaster[] = [{ values, width: layout.width, height: layout.height }];
	while (levels.length < cogLevels(layout.width, layout.height).length) {
		levels.push(halve(levels.at(-1) as FloatRaster));
	}
	// Coarsest level first, as the file orders them.
	const { bytes, tileBytes } = encodeRasters(levels.toReversed(), tileEncoder, layout.output);
	const { header, totalBytes } = cogHeader(layout, tileBytes.toReversed());
	const file = new Uint8Array(totalBytes);
	file.set(header);
	file.set(bytes, header.length);
	return { file, levels };
}
