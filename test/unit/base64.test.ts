import { describe, expect, it } from "vitest";
import { base64, fromBase64 } from "../../src/base64";
import { seededRandom } from "../random";

/** btoa's text for the bytes: the reference both directions are held to. */
function reference(bytes: Uint8Array): string {
	return btoa(String.fromCharCode(...bytes));
}

describe("base64 by table (zonal partial fields, webhook secrets)", () => {
	it("encodes as btoa does and decodes back, at every length of padding", () => {
		const random = seededRandom(14);
		for (let length = 0; length < 64; length++) {
			const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
			const text = base64(bytes);
			expect(text).toBe(reference(bytes));
			const back = fromBase64(text);
			expect(back).toEqual(bytes);
			expect(back.byteOffset).toBe(0);
		}
	});

	it("refuses text that is not whole or outside the alphabet", () => {
		expect(() => fromBase64("abc")).toThrow(/not whole/);
		expect(() => fromBase64("ab!d")).toThrow(/alphabet at 2/);
		expect(() => fromBase64("a\u0141cd")).toThrow(/alphabet at 1/);
	});
});
