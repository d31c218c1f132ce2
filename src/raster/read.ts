/** Reads row windows of chosen bands, the only pixel reads compute makes. */
import type { GeoTIFFImage, TypedArray } from "geotiff";

/**
 * Decodes rows [rowStart, rowEnd) of the given 1-based bands in one pass, so bands of one
 * pixel-interleaved file share each block decode.
 */
export async function readRows(
	image: GeoTIFFImage,
	bands: readonly number[],
	rowStart: number,
	rowEnd: number,
): Promise<TypedArray[]> {
	const rasters = await image.readRasters({
		window: [0, rowStart, image.getWidth(), rowEnd],
		samples: bands.map((band) => band - 1),
		interleave: false,
	});
	return bands.map((band, position) => {
		const data = rasters[position];
		if (!data) throw new Error(`band ${band} was not decoded`);
		return data;
	});
}
