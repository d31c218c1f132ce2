/** The blocks (tiles or strips) a GeoTIFF stores, as stored, with each one's decoded size. */
import { fromArrayBuffer } from "geotiff";

export interface StoredBlocks {
	compression: number;
	blocks: { stored: Uint8Array; decodedBytes: number }[];
}

export async function storedBlocks(file: ArrayBuffer): Promise<StoredBlocks> {
	const image = await (await fromArrayBuffer(file)).getImage();
	const directory = image.getFileDirectory();
	const tiled = image.isTiled;
	const offsets = (await directory.loadValue(tiled ? "TileOffsets" : "StripOffsets")) as ArrayLike<number>;
	const counts = (await directory.loadValue(tiled ? "TileByteCounts" : "StripByteCounts")) as ArrayLike<number>;
	const planar = image.planarConfiguration === 2;
	const rowBytes = image.getTileWidth() * (planar ? image.getBitsPerSample() / 8 : image.getBytesPerPixel());
	const blocksDown = Math.ceil(image.getHeight() / image.getTileHeight());
	const blocks = Array.from({ length: offsets.length }, (_, block) => {
		// A file's last strip holds only the rows left; tiles are whole.
		const rows = tiled
			? image.getTileHeight()
			: Math.min(image.getTileHeight(), image.getHeight() - (block % blocksDown) * image.getTileHeight());
		return {
			stored: new Uint8Array(file, Number(offsets[block]), Number(counts[block])),
			decodedBytes: rows * rowBytes,
		};
	});
	return {
		compression: Number(directory.getValue("Compression")),
		blocks,
	};
}
