/** Decoders that a hostile block cannot make allocate more than the block's decoded size. */
import { zstdCompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { copied, decodePackBits } from "../../src/raster/decoders";
import { workerCodecs } from "../../src/wasm/codecs";
import zstdRed from "../fixtures/layouts/zstd_red.tif";
import sixBands from "../fixtures/s2_l2a_6band_pb04.tif";
import { storedBlocks } from "../stored-blocks";

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
	const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("the Worker's inflate", () => {
	const inflate = (input: Uint8Array, maxBytes: number) => copied(workerCodecs.inflate(input, maxBytes));

	it("inflates a block within its bound", async () => {
		const block = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31) % 256);
		expect(await inflate(await deflate(block), block.length)).toEqual(block);
	});

	it("inflates blocks that fill their bound exactly, as GDAL's tiles do", async () => {
		// 64 x 64 pixels of six UInt16 samples.
		const { blocks } = await storedBlocks(sixBands);
		expect(blocks.length).toBeGreaterThan(1);
		for (const { stored, decodedBytes } of blocks) {
			expect(decodedBytes).toBe(64 * 64 * 6 * 2);
			expect((await inflate(stored, decodedBytes)).byteLength).toBe(decodedBytes);
		}
	});

	it("refuses a stream one byte longer than its bound", async () => {
		const stream = await deflate(Uint8Array.from({ length: 4097 }, (_, i) => (i * 31) % 256));
		expect(() => inflate(stream, 4096)).toThrow("inflates past 4096 bytes");
	});

	it("refuses a stream that inflates past its bound, however small it is", async () => {
		const bomb = await deflate(new Uint8Array(16 * 1024 * 1024));
		expect(bomb.length).toBeLessThan(64 * 1024);
		expect(() => inflate(bomb, 64 * 1024)).toThrow("inflates past 65536 bytes");
	});

	it("names corrupt data as a Deflate error", async () => {
		const corrupt = await deflate(Uint8Array.from({ length: 4096 }, (_, i) => i % 7));
		corrupt.fill(0xff, 4, 12);
		expect(() => inflate(corrupt, 4096)).toThrow(/^Deflate: /);
	});
});

describe("the Worker's zstd", () => {
	const zstd = (input: Uint8Array, maxBytes: number) => copied(workerCodecs.zstd(input, maxBytes));

	it("decodes GDAL's blocks, which fill their bound exactly", async () => {
		const { compression, blocks } = await storedBlocks(zstdRed);
		expect(compression).toBe(50000);
		for (const { stored, decodedBytes } of blocks) expect(zstd(stored, decodedBytes).byteLength).toBe(decodedBytes);
	});

	it("refuses a frame one byte longer than its bound, and a bomb, at the bound", () => {
		const block = Uint8Array.from({ length: 4097 }, (_, i) => (i * 31) % 256);
		expect(zstd(zstdCompressSync(block), 4097)).toEqual(block);
		expect(() => zstd(zstdCompressSync(block), 4096)).toThrow(/^ZSTD: the block does not decode/);
		const bomb = zstdCompressSync(new Uint8Array(64 * 1024 * 1024));
		expect(bomb.length).toBeLessThan(64 * 1024);
		expect(() => zstd(bomb, 65536)).toThrow(/^ZSTD: the block does not decode/);
	});

	it("names corrupt data as a ZSTD error", () => {
		const frame = zstdCompressSync(Uint8Array.from({ length: 4096 }, (_, i) => i % 7));
		frame.fill(0xff, 4, 12);
		expect(() => zstd(frame, 4096)).toThrow(/^ZSTD: /);
	});
});

describe("decodePackBits", () => {
	it("decodes the TIFF 6.0 specification's example", () => {
		const packed = [0xfe, 0xaa, 0x02, 0x80, 0x00, 0x2a, 0xfd, 0xaa, 0x03, 0x80, 0x00, 0x2a, 0x22, 0xf7, 0xaa];
		const unpacked = [0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0xaa, 0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0x22];
		unpacked.push(...Array.from({ length: 10 }, () => 0xaa));
		expect(Array.from(decodePackBits(Uint8Array.from(packed), 64))).toEqual(unpacked);
	});

	it("stops at its bound however many runs the input holds", () => {
		// Each pair asks for 128 bytes: 1 MiB of input would expand to 64 MiB.
		const runs = new Uint8Array(1024 * 1024).map((_, i) => (i % 2 === 0 ? 0x81 : 7));
		const decoded = decodePackBits(runs, 1000);
		expect(decoded.length).toBe(1000);
		expect(decoded.every((value) => value === 7)).toBe(true);
	});
});
