import { describe, expect, it } from "vitest";
import { runHeavy } from "../../src/isolate-memory";
import { kernels } from "../../src/wasm/index";

const LARGE_WINDOW = { pixels: 2048 * 2048, inputs: [{ type: "uint16" as const }, { type: "uint16" as const }] };
const SMALL_WINDOW = { pixels: 256, inputs: [{ type: "uint16" as const }] };

describe("Wasm instances between heavy tasks", () => {
	it("a heavy task does not keep the memory an earlier one grew", async () => {
		const grown = await runHeavy(async () => kernels.arena(LARGE_WINDOW).output.buffer.byteLength);
		// 2048² pixels of two uint16 inputs and a float32 output: at least 32 MiB.
		expect(grown).toBeGreaterThanOrEqual(2048 * 2048 * 8);
		const next = await runHeavy(async () => kernels.arena(SMALL_WINDOW).output.buffer.byteLength);
		expect(next).toBeLessThan(grown / 8);
	});

	it("within one task the arena keeps its instance and grows it as needed", async () => {
		await runHeavy(async () => {
			const first = kernels.arena(LARGE_WINDOW).output.buffer;
			const second = kernels.arena(SMALL_WINDOW).output.buffer;
			expect(second.byteLength).toBe(first.byteLength);
		});
	});
});
