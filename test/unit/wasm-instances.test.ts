import { describe, expect, it } from "vitest";
import { oneAtATime } from "../../src/isolate-memory";
import { kernels } from "../../src/wasm/index";
import { WASM_KEPT_BYTES } from "../../src/wasm/instances";

const LARGE_WINDOW = { pixels: 2048 * 2048, inputs: [{ type: "uint16" as const }, { type: "uint16" as const }] };
const SMALL_WINDOW = { pixels: 256, inputs: [{ type: "uint16" as const }] };

describe("Wasm instances between heavy messages", () => {
	it("a heavy message does not keep the memory the one before it grew", async () => {
		const sizes: number[] = [];
		await oneAtATime([LARGE_WINDOW, SMALL_WINDOW], async (layout) => {
			sizes.push(kernels.arena(layout).output.buffer.byteLength);
		});
		const [grown = 0, next = 0] = sizes;
		// 2048² pixels of two uint16 inputs and a float32 output: at least 32 MiB.
		expect(grown).toBeGreaterThanOrEqual(2048 * 2048 * 8);
		expect(next).toBeLessThan(grown / 8);
	});

	it("a heavy message keeps an instance whose memory stayed within WASM_KEPT_BYTES", async () => {
		const buffers: ArrayBuffer[] = [];
		await oneAtATime([SMALL_WINDOW, SMALL_WINDOW], async (layout) => {
			buffers.push(kernels.arena(layout).output.buffer as ArrayBuffer);
		});
		const [first, second] = buffers;
		expect(first?.byteLength).toBeLessThanOrEqual(WASM_KEPT_BYTES);
		expect(second).toBe(first);
	});

	it("within one message the arena keeps its instance and the memory it grew", async () => {
		await oneAtATime([null], async () => {
			const first = kernels.arena(LARGE_WINDOW).output.buffer;
			const second = kernels.arena(SMALL_WINDOW).output.buffer;
			expect(second.byteLength).toBe(first.byteLength);
		});
	});
});
