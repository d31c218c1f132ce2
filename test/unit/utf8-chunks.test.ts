import { describe, expect, it } from "vitest";
import { Utf8Chunks } from "../../src/utf8-chunks";
import { seededRandom } from "../random";
import { drained } from "../utf8";

/** Characters of every UTF-8 length, a surrogate pair among them, and a lone surrogate. */
const ALPHABET = ["a", ",", "\r\n", "é", "ß", "€", "田", "🌾", "🛰️", "\ud800"];

describe("Utf8Chunks", () => {
	it("gives what TextEncoder gives for the pieces joined, across chunk boundaries", () => {
		const random = seededRandom(14);
		for (let round = 0; round < 5; round++) {
			const pieces = Array.from({ length: 4000 }, () =>
				Array.from({ length: Math.floor(random() * 90) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join(
					"",
				),
			);
			const chunks = new Utf8Chunks();
			for (const piece of pieces) chunks.write(piece);
			const expected = new TextEncoder().encode(pieces.join(""));
			expect(expected.byteLength).toBeGreaterThan(3 * 64 * 1024);
			expect(chunks.byteLength).toBe(expected.byteLength);
			expect(drained(chunks)).toEqual(expected);
			expect(chunks.byteLength).toBe(0);
		}
	});

	it("takes a piece larger than a chunk, and nothing at all", () => {
		const large = "🌾é".repeat(100_000);
		const chunks = new Utf8Chunks();
		chunks.write("x");
		chunks.write(large);
		chunks.write("");
		chunks.write("y");
		expect(drained(chunks)).toEqual(new TextEncoder().encode(`x${large}y`));
		expect(drained(new Utf8Chunks())).toEqual(new Uint8Array(0));
	});

	it("is empty once drained, and written again from there", () => {
		const chunks = new Utf8Chunks();
		chunks.write("é".repeat(40_000));
		drained(chunks);
		expect(drained(chunks)).toEqual(new Uint8Array(0));
		chunks.write("x€");
		expect(chunks.byteLength).toBe(4);
		expect([...chunks.drain()]).toEqual([new TextEncoder().encode("x€")]);
	});
});
