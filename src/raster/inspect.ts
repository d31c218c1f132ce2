/**
 * What EO Edge needs to know about a GeoTIFF before reading pixels: size, bands, sample type,
 * block layout, nodata and georeference, all from the header.
 */
import type { GeoTIFFImage } from "geotiff";
import { COMPRESSION } from "./decoders";
import { type GeoReference, readGeoReference } from "./georeference";
import { RasterInputError } from "./input-errors";

/** GDAL's names for the sample types EO Edge computes on. */
export const supportedDataTypes = ["Byte", "Int8", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"] as const;

/** The supported sample types that hold integers (class and bit bands). */
export const INTEGER_SAMPLE_TYPES: ReadonlySet<string> = new Set([
	"Byte",
	"Int8",
	"UInt16",
	"Int16",
	"UInt32",
	"Int32",
]);
export type SupportedDataType = (typeof supportedDataTypes)[number];

export interface RasterSummary {
	width: number;
	height: number;
	bands: number;
	/** GDAL-style name of the sample type, e.g. `UInt16`; `Mixed` when bands differ. */
	data_type: string;
	/** The GDAL_NODATA value, `null` when the file declares none (NaN is written as null in JSON). */
	nodata: number | null;
	block_width: number;
	block_height: number;
	/** EPSG code of the CRS, when the file names one. */
	epsg: number | null;
}

export interface RasterHeader extends RasterSummary {
	/** NaN survives here; the JSON summary cannot carry it. */
	nodataValue: number | null;
	/** The sample type of each band, as `data_type` names it. */
	bandDataTypes: string[];
	compression: number;
	photometric: number | null;
	/** Whether each band is stored apart (PlanarConfiguration 2), not pixel-interleaved. */
	planar: boolean;
	geo: GeoReference;
}

const SAMPLE_FORMAT_NAMES: Record<number, string> = { 1: "UInt", 2: "Int", 3: "Float", 5: "CInt", 6: "CFloat" };

/** GDAL's name of a sample type, from its TIFF SampleFormat and BitsPerSample. */
export function dataTypeName(sampleFormat: number, bits: number): string {
	if (sampleFormat === 1 && bits === 8) return "Byte";
	return `${SAMPLE_FORMAT_NAMES[sampleFormat] ?? `Format${sampleFormat}-`}${bits}`;
}

export function isSupportedDataType(name: string): name is SupportedDataType {
	return (supportedDataTypes as readonly string[]).includes(name);
}

/** GDAL writes nodata as text ("0", "-9999", "nan", "inf"), NUL-terminated. */
function parseGdalNodata(text: unknown): number | null {
	if (typeof text !== "string") return null;
	const trimmed = text.replace(/\0+$/, "").trim().toLowerCase();
	if (trimmed === "") return null;
	if (trimmed === "nan") return Number.NaN;
	if (trimmed === "inf" || trimmed === "+inf") return Number.POSITIVE_INFINITY;
	if (trimmed === "-inf") return Number.NEGATIVE_INFINITY;
	const value = Number(trimmed);
	return Number.isNaN(value) ? null : value;
}

const EPSG_KEYS = ["ProjectedCSTypeGeoKey", "GeographicTypeGeoKey"] as const;
const USER_DEFINED = 32767;

function epsgOf(image: GeoTIFFImage): number | null {
	let keys: ReturnType<GeoTIFFImage["getGeoKeys"]>;
	try {
		keys = image.getGeoKeys();
	} catch (error) {
		// geotiff.js parses the GeoKeyDirectory here, and refuses a key whose value it cannot find.
		throw new RasterInputError(
			"invalid-raster",
			`the GeoKeyDirectory is malformed: ${error instanceof Error ? error.message : String(error)}`,
		);
	}
	for (const name of EPSG_KEYS) {
		const code = keys?.[name];
		if (typeof code === "number" && code > 0 && code !== USER_DEFINED) return code;
	}
	return null;
}

/** Reads an image's header; throws if the file is not a usable TIFF. */
export async function inspectRaster(image: GeoTIFFImage): Promise<RasterHeader> {
	const width = image.getWidth();
	const height = image.getHeight();
	const bands = image.getSamplesPerPixel();
	if (!(width > 0 && height > 0 && bands > 0)) {
		throw new RasterInputError("invalid-raster", `the image declares ${width} x ${height} pixels and ${bands} bands`);
	}
	const bandDataTypes = Array.from({ length: bands }, (_, band) =>
		dataTypeName(image.getSampleFormat(band), image.getBitsPerSample(band)),
	);
	const types = new Set(bandDataTypes);
	const directory = image.getFileDirectory();
	const nodataValue = parseGdalNodata(directory.hasTag("GDAL_NODATA") ? directory.getValue("GDAL_NODATA") : null);
	return {
		width,
		height,
		bands,
		data_type: types.size === 1 ? ([...types][0] ?? "Mixed") : "Mixed",
		nodata: nodataValue === null || Number.isNaN(nodataValue) ? null : nodataValue,
		nodataValue,
		bandDataTypes,
		block_width: image.getTileWidth(),
		block_height: image.getTileHeight(),
		epsg: epsgOf(image),
		compression: Number(directory.getValue("Compression") ?? 1),
		photometric: directory.hasTag("PhotometricInterpretation")
			? Number(directory.getValue("PhotometricInterpretation"))
			: null,
		planar: image.planarConfiguration === 2,
		geo: await readGeoReference(image),
	};
}

/**
 * Why a YCbCr file cannot be read, or null when it can: YCbCr is read (as RGB, as GDAL reads it)
 * only from JPEG-compressed, pixel-interleaved blocks of three 8-bit bands, where libjpeg does
 * the conversion. Other YCbCr files store subsampled chroma in a layout of their own.
 */
export function ycbcrUnreadable(header: Pick<RasterHeader, "compression" | "planar" | "bandDataTypes">): string | null {
	if (header.compression !== COMPRESSION.jpeg) return "YCbCr is read only from JPEG-compressed files";
	if (header.planar) return "YCbCr is read only from pixel-interleaved files (PlanarConfiguration 1)";
	if (header.bandDataTypes.length !== 3 || header.bandDataTypes.some((type) => type !== "Byte")) {
		return `YCbCr is read only from three Byte bands, not ${header.bandDataTypes.length} of ${[...new Set(header.bandDataTypes)].join(", ")}`;
	}
	return null;
}

/** The sample type of a 1-based band. */
export function bandDataType(header: RasterHeader, band: number): string {
	return header.bandDataTypes[band - 1] ?? header.data_type;
}

export function summarize(header: RasterHeader): RasterSummary {
	const { width, height, bands, data_type, nodata, block_width, block_height, epsg } = header;
	return { width, height, bands, data_type, nodata, block_width, block_height, epsg };
}
