import { describe, expect, it } from "vitest";
import { reverseSampleBytes, undoHorizontalDifferencing } from "../../src/raster/block-samples";
import { workerBlockDecoder } from "../../src/wasm/codecs";
import { seededRandom } from "../random";

/** Predictor 2 as a writer applies it: each sample minus the same sample of the pixel to its left. */
function difference(samples: readonly number[], rowSamples: number, stride: number, modulus: number): number[] {
	return samples.map((value, i) =>
		i % rowSamples < stride ? value : (((value - (samples[i - stride] as number)) % modulus) + modulus) % modulus,
	);
}

describe("reverseSampleBytes", () => {
	it("turns big-endian samples of every width into this machine's order", () => {
		const view = new DataView(new ArrayBuffer(24));
		view.setUint16(0, 0x1234);
		view.setUint16(2, 0xfedc);
		const sixteen = view.buffer.slice(0, 4);
		reverseSampleBytes(sixteen, 2);
		expect(Array.from(new Uint16Array(sixteen))).toEqual([0x1234, 0xfedc]);

		view.setFloat32(0, -1.5);
		view.setInt32(4, -123456789);
		const thirtyTwo = view.buffer.slice(0, 8);
		reverseSampleBytes(thirtyTwo, 4);
		expect(new Float32Array(thirtyTwo, 0, 1)[0]).toBe(-1.5);
		expect(new Int32Array(thirtyTwo, 4, 1)[0]).toBe(-123456789);

		view.setFloat64(8, Math.PI);
		view.setFloat64(16, -2e-300);
		const sixtyFour = view.buffer.slice(8, 24);
		reverseSampleBytes(sixtyFour, 8);
		expect(Array.from(new Float64Array(sixtyFour))).toEqual([Math.PI, -2e-300]);
	});

	it("leaves a trailing partial sample alone", () => {
		const bytes = Uint8Array.from([1, 2, 3]);
		reverseSampleBytes(bytes.buffer, 2);
		expect(Array.from(bytes)).toEqual([2, 1, 3]);
	});
});

describe("undoHorizontalDifferencing", () => {
	it("adds up each row's differences, wrapping around like the writer's unsigned arithmetic", () => {
		const samples = [65000, 100, 65535, 0, 7, 300, 2, 65534, 1, 40000];
		const differenced = Uint16Array.from(difference(samples, 5, 1, 65536));
		undoHorizontalDifferencing(differenced.buffer, { rowSamples: 5, stride: 1, bytesPerSample: 2 });
		expect(Array.from(differenced)).toEqual(samples);
	});

	it("differences each sample of a pixel against the same sample of its left neighbour", () => {
		// Two rows of three pixels with three interleaved samples (e.g. red, green, blue).
		const samples = Array.from({ length: 18 }, (_, i) => (i * 2654435761) >>> 0);
		const differenced = Uint32Array.from(difference(samples, 9, 3, 2 ** 32));
		undoHorizontalDifferencing(differenced.buffer, { rowSamples: 9, stride: 3, bytesPerSample: 4 });
		expect(Array.from(differenced)).toEqual(samples);
	});

	it("handles bytes and 64-bit words", () => {
		const bytes = Uint8Array.from(difference([10, 250, 3, 128], 4, 1, 256));
		undoHorizontalDifferencing(bytes.buffer, { rowSamples: 4, stride: 1, bytesPerSample: 1 });
		expect(Array.from(bytes)).toEqual([10, 250, 3, 128]);

		const values = [1.5, -2.25, 1e300, 0];
		const words = new BigUint64Array(new Float64Array(values).buffer);
		const differenced = words.map((word, i) => (i === 0 ? word : BigInt.asUintN(64, word - (words[i - 1] as bigint))));
		undoHorizontalDifferencing(differenced.buffer, { rowSamples: 4, stride: 1, bytesPerSample: 8 });
		expect(Array.from(new Float64Array(differenced.buffer))).toEqual(values);
	});

	it("refuses a block that ends mid-row, whose last row would be read as differences", () => {
		const block = new Uint16Array(4 * 2 + 3);
		expect(() => undoHorizontalDifferencing(block.buffer, { rowSamples: 4, stride: 1, bytesPerSample: 2 })).toThrow(
			"not whole rows of 8",
		);
	});

	it("refuses sample widths predictor 2 is not defined for", () => {
		expect(() =>
			undoHorizontalDifferencing(new ArrayBuffer(24), { rowSamples: 4, stride: 1, bytesPerSample: 3 }),
		).toThrow("1, 2, 4 or 8 bytes");
	});
});

describe("predictor 2 in Wasm", () => {
	const decoder = workerBlockDecoder();

	it("undoes it as the TypeScript reference does, for every width, stride and row length", () => {
		const random = seededRandom(21);
		for (const bytesPerSample of [1, 2, 4, 8]) {
			for (const stride of [1, 2, 3, 4, 5, 8]) {
				for (const pixels of [1, 2, 3, 7, 8, 9, 16, 17, 100, 512]) {
					const rowSamples = pixels * stride;
					const rows = 1 + Math.floor(random() * 4);
					const bytes = Uint8Array.from({ length: rows * rowSamples * bytesPerSample }, () =>
						Math.floor(random() * 256),
					);
					const block = { rowSamples, stride, bytesPerSample };
					const expected = bytes.slice();
					undoHorizontalDifferencing(expected.buffer, block);
					const undone = decoder.undoDifferencing(bytes, block);
					expect(undone, `${bytesPerSample} bytes, stride ${stride}, ${pixels} pixels`).toEqual(expected);
				}
			}
		}
	});

	it("undoes a block in place when it is a buffer of its own, and a view into a larger one into a copy", () => {
		const own = new Uint16Array(40).fill(1);
		const inPlace = decoder.undoDifferencing(new Uint8Array(own.buffer), {
			rowSamples: 20,
			stride: 1,
			bytesPerSample: 2,
		});
		expect(inPlace.buffer).toBe(own.buffer);
		expect(Array.from(own)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 20) + 1));

		const buffer = new Uint16Array(2 + 2 * 20 + 2).fill(1);
		const view = new Uint8Array(buffer.buffer, 4, 2 * 20 * 2);
		const undone = decoder.undoDifferencing(view, { rowSamples: 20, stride: 1, bytesPerSample: 2 });
		expect(undone.byteOffset).toBe(0);
		expect(undone.buffer.byteLength).toBe(80);
		expect(Array.from(new Uint16Array(undone.buffer))).toEqual(Array.from({ length: 40 }, (_, i) => (i % 20) + 1));
		expect(Array.from(buffer)).toEqual(new Array(44).fill(1));
	});

	it("refuses a block that ends mid-row, and sample widths predictor 2 is not defined for", () => {
		expect(() => decoder.undoDifferencing(new Uint8Array(22), { rowSamples: 4, stride: 1, bytesPerSample: 2 })).toThrow(
			"not whole rows of 8",
		);
		expect(() => decoder.undoDifferencing(new Uint8Array(24), { rowSamples: 4, stride: 1, bytesPerSample: 3 })).toThrow(
			"1, 2, 4 or 8 bytes",
		);
	});
});
