/**
 * preview.png: the index drawn through a colormap from the first level of result.tif (full
 * resolution or an overview) whose sides are at most 1024 pixels. The level's samples are read
 * back as the values they stand for (the file's own nodata, scale and offset, whatever output
 * type it was written in), rescaled linearly from [min, max] onto the colormap and clamped;
 * nodata is transparent.
 */
import { cogLevels } from "../raster/cog-writer";
import { openRasterFile } from "../raster/inputs";
import { type OutputSamples, readSampleScaling, unscale } from "../raster/output-type";
import { COLORMAP_ENTRIES, type ColormapName, colormapTable } from "./colormaps";
import { encodePng } from "./png";

export const PREVIEW_ARTIFACT = "preview.png";
const PREVIEW_MAX_SIDE = 1024;

export interface PreviewStyle {
	colormap: ColormapName;
	/** Values mapped onto the colormap's first and last colour. */
	rescale: readonly [number, number];
}

/** The level of result.tif a preview is drawn from. */
function previewLevel(width: number, height: number): number {
	const levels = cogLevels(width, height);
	const index = levels.findIndex((level) => Math.max(level.width, level.height) <= PREVIEW_MAX_SIDE);
	return index < 0 ? levels.length - 1 : index;
}

/** RGBA pixels of `values` through the style's colormap; NaN is fully transparent. */
function colorize(values: Float32Array, { colormap, rescale: [min, max] }: PreviewStyle): Uint8Array {
	const table = colormapTable(colormap);
	const rgba = new Uint8Array(values.length * 4);
	const scale = (COLORMAP_ENTRIES - 1) / (max - min);
	for (let i = 0; i < values.length; i++) {
		const value = values[i] as number;
		if (Number.isNaN(value)) continue;
		const entry = Math.min(COLORMAP_ENTRIES - 1, Math.max(0, Math.round((value - min) * scale)));
		rgba[i * 4] = table[entry * 3] as number;
		rgba[i * 4 + 1] = table[entry * 3 + 1] as number;
		rgba[i * 4 + 2] = table[entry * 3 + 2] as number;
		rgba[i * 4 + 3] = 255;
	}
	return rgba;
}

/** Draws the preview of a stored result.tif of `width` x `height` pixels. */
export async function renderPreview(
	env: Env,
	result: { objectKey: string; bytes: number },
	raster: { width: number; height: number },
	style: PreviewStyle,
): Promise<Uint8Array> {
	const { image, first } = await openRasterFile(
		env,
		{ objectKey: result.objectKey, href: null, bytes: result.bytes, allowedHosts: null },
		previewLevel(raster.width, raster.height),
	);
	const [samples] = (await image.readRasters({ interleave: false })) as unknown as OutputSamples[];
	if (!samples) throw new Error("result.tif has no band to preview");
	const values = unscale(samples, await readSampleScaling(first, image));
	return encodePng(colorize(values, style), image.getWidth(), image.getHeight());
}
