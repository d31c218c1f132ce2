/** Reads back an RGBA8 PNG in tests: chunks, CRCs, and the pixels through DecompressionStream. */
import { expect } from "vitest";
import { crc32 } from "../src/preview/png";

export interface DecodedPng {
	width: number;
	height: number;
	rgba: Uint8Array;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
	const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function decodePng(file: Uint8Array): Promise<DecodedPng> {
	expect(Array.from(file.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
	const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
	const types: string[] = [];
	const idat: Uint8Array[] = [];
	let width = 0;
	let height = 0;
	for (let at = 8; at < file.length; ) {
		const length = view.getUint32(at);
		const typeBytes = file.subarray(at + 4, at + 8);
		const type = new TextDecoder().decode(typeBytes);
		const data = file.subarray(at + 8, at + 8 + length);
		expect(view.getUint32(at + 8 + length), `CRC of ${type}`).toBe(crc32(typeBytes, data));
		types.push(type);
		if (type === "IHDR") {
			width = view.getUint32(at + 8);
			height = view.getUint32(at + 12);
			// 8-bit RGBA, deflate, adaptive filtering, no interlace.
			expect(Array.from(data.subarray(8))).toEqual([8, 6, 0, 0, 0]);
		}
		if (type === "IDAT") idat.push(data);
		at += 12 + length;
	}
	expect(types[0]).toBe("IHDR");
	expect(types.at(-1)).toBe("IEND");
	const filtered = await inflate(new Uint8Array(await new Blob(idat as Uint8Array<ArrayBuffer>[]).arrayBuffer()));
	expect(filtered.length).toBe(height * (width * 4 + 1));
	const rgba = new Uint8Array(width * height * 4);
	for (let row = 0; row < height; row++) {
		const start = row * (width * 4 + 1);
		expect(filtered[start], `filter of row ${row}`).toBe(0);
		rgba.set(filtered.subarray(start + 1, start + 1 + width * 4), row * width * 4);
	}
	return { width, height, rgba };
}
