/**
 * Blocks kept in the block decoder's memory (src/wasm/decode.ts): each stays as decoded while
 * others are decoded after it (and the memory grows), and its room is taken back once it and
 * every block decoded after it are freed, whatever the order.
 */
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { createBlockDecoder } from "../../src/wasm/decode";
import decodeModule from "../../wasm/build/decode.wasm";
import { seededRandom } from "../random";

const decoder = createBlockDecoder(decodeModule);

function randomBlock(bytes: number, seed: number): Uint8Array {
	const random = seededRandom(seed);
	return Uint8Array.from({ length: bytes }, () => Math.floor(random() * 16));
}

describe("kept blocks", () => {
	it("stay as decoded while later blocks grow the memory", () => {
		const blocks = [1, 2, 3, 4].map((seed) => randomBlock(300_000, seed));
		const kept = blocks.map((block) => decoder.keptInflate(deflateSync(block), block.length));
		for (const [i, block] of kept.entries()) expect(block.bytes()).toEqual(blocks[i]);
		for (const block of kept) block.free();
	});

	it("give their room back once every block after them is freed", () => {
		const block = randomBlock(50_000, 5);
		const stream = deflateSync(block);
		const [first, second, third] = [0, 1, 2].map(() => decoder.keptInflate(stream, block.length));
		if (!first || !second || !third) throw new Error("three blocks were decoded");
		const bottom = first.bytes().byteOffset;
		second.free();
		expect(third.bytes()).toEqual(block);
		const fourth = decoder.keep(block, null);
		expect(fourth.bytes().byteOffset).toBeGreaterThan(third.bytes().byteOffset);
		for (const kept of [fourth, third, first]) kept.free();
		const again = decoder.keptInflate(stream, block.length);
		expect(again.bytes().byteOffset).toBe(bottom);
		again.free();
	});

	it("are not read once freed", () => {
		const block = decoder.keep(new Uint8Array(16), null);
		block.free();
		expect(() => block.bytes()).toThrow("a freed block was read");
	});

	it("keep nothing of a block that does not decode", () => {
		const block = randomBlock(10_000, 6);
		const before = decoder.keptInflate(deflateSync(block), block.length);
		const at = before.bytes().byteOffset;
		before.free();
		expect(() => decoder.keptInflate(deflateSync(block), block.length - 1)).toThrow(/inflates past/);
		const after = decoder.keptInflate(deflateSync(block), block.length);
		expect(after.bytes().byteOffset).toBe(at);
		after.free();
	});
});
