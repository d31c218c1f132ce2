/**
 * How large a raster EO Edge agrees to read, from the worker's vars (wrangler.toml). Every
 * limit is checked on the file's header before geotiff.js parses it or anything is allocated
 * for its pixels (src/raster/tiff-structure.ts).
 */
export interface RasterLimits {
	/** Largest width or height, in pixels (RASTER_MAX_DIMENSION). */
	maxDimension: number;
	/** Most samples per pixel (RASTER_MAX_BANDS). */
	maxBands: number;
	/** Most strips or tiles, all bands together (RASTER_MAX_BLOCKS). */
	maxBlocks: number;
	/** Largest decoded strip or tile, in bytes (RASTER_MAX_BLOCK_BYTES). */
	maxBlockBytes: number;
}

export function rasterLimits(env: Env): RasterLimits {
	return {
		maxDimension: env.RASTER_MAX_DIMENSION,
		maxBands: env.RASTER_MAX_BANDS,
		maxBlocks: env.RASTER_MAX_BLOCKS,
		maxBlockBytes: env.RASTER_MAX_BLOCK_BYTES,
	};
}
