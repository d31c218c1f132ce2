/**
 * A minimal PNG encoder for RGBA8 images: the signature, IHDR, the zlib stream of the filtered
 * rows cut into IDAT chunks, and IEND, each chunk with its CRC-32. The zlib stream comes from
 * the runtime's own CompressionStream("deflate"), which writes RFC 1950 as PNG requires.
 */
import { concatenated } from "../bytes";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const BIT_DEPTH = 8;
const COLOR_TYPE_RGBA = 6;
const FILTER_NONE = 0;
/** Largest IDAT chunk written; PNG allows up to 2^31 - 1 bytes, readers like smaller ones. */
const IDAT_CHUNK_BYTES = 256 * 1024;

/** Collects a stream's chunks into one array. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
	const chunks: Uint8Array[] = [];
	for await (const chunk of stream) chunks.push(chunk);
	if (chunks.length === 1 && chunks[0]?.buffer instanceof ArrayBuffer) return chunks[0] as Uint8Array<ArrayBuffer>;
	return concatenated(chunks);
}

/** zlib (RFC 1950) compression by the runtime's native CompressionStream. */
async function deflate(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
	const stream = new CompressionStream("deflate");
	const writer = stream.writable.getWriter();
	const written = Promise.all([writer.write(bytes as Uint8Array<ArrayBuffer>), writer.close()]);
	const compressed = await readAll(stream.readable);
	await written;
	return compressed;
}

const CRC_TABLE = (() => {
	const table = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		table[n] = c >>> 0;
	}
	return table;
})();

/** CRC-32 (ISO 3309, as PNG and zlib's crc32 compute it) of the given byte arrays in sequence. */
export function crc32(...parts: Uint8Array[]): number {
	let crc = 0xffffffff;
	for (const bytes of parts) {
		for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
	}
	return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
	const typeBytes = new TextEncoder().encode(type);
	const out = new Uint8Array(12 + data.length);
	const view = new DataView(out.buffer);
	view.setUint32(0, data.length);
	out.set(typeBytes, 4);
	out.set(data, 8);
	view.setUint32(8 + data.length, crc32(typeBytes, data));
	return out;
}

/** Encodes `rgba` (width x height pixels, 4 bytes each, row-major) as a PNG file. */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
	if (rgba.length !== width * height * 4)
		throw new RangeError(`${width} x ${height} RGBA needs ${width * height * 4} bytes`);
	const rowBytes = width * 4;
	const filtered = new Uint8Array(height * (rowBytes + 1));
	for (let row = 0; row < height; row++) {
		filtered[row * (rowBytes + 1)] = FILTER_NONE;
		filtered.set(rgba.subarray(row * rowBytes, (row + 1) * rowBytes), row * (rowBytes + 1) + 1);
	}
	const compressed = await deflate(filtered);
	const header = new Uint8Array(13);
	const view = new DataView(header.buffer);
	view.setUint32(0, width);
	view.setUint32(4, height);
	header.set([BIT_DEPTH, COLOR_TYPE_RGBA, 0, 0, 0], 8);
	const chunks = [new Uint8Array(SIGNATURE), chunk("IHDR", header)];
	for (let offset = 0; offset < compressed.length; offset += IDAT_CHUNK_BYTES) {
		chunks.push(chunk("IDAT", compressed.subarray(offset, offset + IDAT_CHUNK_BYTES)));
	}
	chunks.push(chunk("IEND", new Uint8Array(0)));
	return concatenated(chunks);
}
