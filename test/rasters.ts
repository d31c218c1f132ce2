/** Opens a fixture GeoTIFF as the pipeline sees one: its grid, nodata, and windows of band 1. */
import { fromArrayBuffer, type GeoTIFFImage } from "geotiff";
import { ApiError } from "../src/errors/api-error";
import { installDecoders } from "../src/raster/decoders";
import { geotransformOf, readGeoReference } from "../src/raster/georeference";
import type { Grid } from "../src/raster/grid";
import { inspectRaster } from "../src/raster/inspect";
import { type PixelWindow, readWindow } from "../src/raster/read";
import { SAMPLE_ARRAYS, type SampleArray } from "../src/raster/samples";
import { workerCodecs } from "../src/wasm/codecs";

// As the Worker reads inputs: geotiff.js's own decoders would leave predictor 2 for the caller.
installDecoders(workerCodecs);

export interface FixtureRaster {
	image: GeoTIFFImage;
	grid: Grid;
	nodata: number | null;
	/** Band 1's samples over the window, row-major, in the band's type. */
	read(window: PixelWindow): Promise<SampleArray>;
}

export async function openRaster(bytes: ArrayBuffer): Promise<FixtureRaster> {
	const image = await (await fromArrayBuffer(bytes.slice(0))).getImage();
	const crs = await readGeoReference(image);
	const geotransform = geotransformOf(crs);
	if (geotransform === null) throw new Error("fixture has no geotransform");
	const { nodataValue } = await inspectRaster(image);
	return {
		image,
		grid: { geotransform, width: image.getWidth(), height: image.getHeight(), crs },
		nodata: nodataValue,
		async read(window) {
			const decoded = await readWindow(image, [1], window);
			const [type] = decoded.sampleTypes;
			if (type === undefined) throw new Error("no band decoded");
			const samples = new SAMPLE_ARRAYS[type]((window.rowEnd - window.rowStart) * (window.colEnd - window.colStart));
			decoded.copyBand(0, samples);
			decoded.release();
			return samples;
		},
	};
}

/** The whole raster as a window. */
export function wholeWindow(grid: Pick<Grid, "width" | "height">): PixelWindow {
	return { rowStart: 0, rowEnd: grid.height, colStart: 0, colEnd: grid.width };
}

/** The ApiError `run` throws; fails the test when it returns or throws anything else. */
export function refusal(run: () => unknown): ApiError {
	try {
		run();
	} catch (error) {
		if (error instanceof ApiError) return error;
		throw error;
	}
	throw new Error("not refused");
}
