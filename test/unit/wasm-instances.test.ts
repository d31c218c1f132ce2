import { describe, expect, it } from "vitest";
import { oneAtATime, wasmBytesInherited } from "../../src/isolate-memory";
import { heavyMessageKind } from "../../src/pipeline/dispatch";
import { workerBlockDecoder } from "../../src/wasm/codecs";
import { kernels } from "../../src/wasm/index";

const LARGE_WINDOW = { pixels: 2048 * 2048, inputs: [{ type: "uint16" as const }, { type: "uint16" as const }] };
const SMALL_WINDOW = { pixels: 256, inputs: [{ type: "uint16" as const }] };

/** Every item a heavy message of `kind` (a stage and a job). */
function messagesOf<T>(kind: string, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
	return oneAtATime(items, () => kind, work);
}

describe("Wasm instances between heavy messages", () => {
	it("the next message of the same stage and job reuses the memory the one before it grew", async () => {
		const buffers: ArrayBuffer[] = [];
		const inherited: number[] = [];
		await messagesOf("compute job_a", [LARGE_WINDOW, SMALL_WINDOW], async (layout) => {
			inherited.push(wasmBytesInherited());
			buffers.push(kernels.arena(layout).output.buffer as ArrayBuffer);
		});
		const [grown, next] = buffers;
		// 2048² pixels of two uint16 inputs and a float32 output: at least 32 MiB.
		expect(grown?.byteLength).toBeGreaterThanOrEqual(2048 * 2048 * 8);
		expect(next).toBe(grown);
		// The second message began with the first one's memory, and says so; nothing is inherited once the batch ends.
		expect(inherited[1]).toBeGreaterThanOrEqual(grown?.byteLength ?? Number.POSITIVE_INFINITY);
		expect(wasmBytesInherited()).toBe(0);
	});

	it.each([
		["another stage", "store job_a"],
		["another job, at the same stage", "compute job_b"],
	])("a message of %s does not keep the memory the one before it grew", async (_, kind) => {
		const sizes: number[] = [];
		await messagesOf("compute job_a", [LARGE_WINDOW], async (layout) => {
			sizes.push(kernels.arena(layout).output.buffer.byteLength);
		});
		await messagesOf(kind, [SMALL_WINDOW], async (layout) => {
			sizes.push(kernels.arena(layout).output.buffer.byteLength);
		});
		const [grown = 0, next = 0] = sizes;
		expect(grown).toBeGreaterThanOrEqual(2048 * 2048 * 8);
		expect(next).toBeLessThan(grown / 8);
	});

	it("a message of another stage does not get even a small instance of the one before it", async () => {
		const buffers: ArrayBuffer[] = [];
		await messagesOf("compute job_a", [SMALL_WINDOW], async (layout) => {
			buffers.push(kernels.arena(layout).output.buffer as ArrayBuffer);
		});
		await messagesOf("histogram job_a", [SMALL_WINDOW], async (layout) => {
			buffers.push(kernels.arena(layout).output.buffer as ArrayBuffer);
		});
		const [first, second] = buffers;
		expect(second).not.toBe(first);
	});

	it("a block decoder still holding a block after its message is not handed to the next", async () => {
		const decoders: unknown[] = [];
		const stored = new Uint8Array([0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]); // zlib of two zero bytes
		await messagesOf("compute job_a", [0, 1], async (message) => {
			const decoder = workerBlockDecoder();
			decoders.push(decoder);
			const block = decoder.keptInflate(stored, 2);
			expect(Array.from(block.bytes())).toEqual([0, 0]);
			// The first message forgets to free its block; the second frees its own.
			if (message === 1) block.free();
		});
		const [leaked, next] = decoders;
		expect(next).not.toBe(leaked);
		await messagesOf("compute job_a", [0], async () => {
			decoders.push(workerBlockDecoder());
		});
		expect(decoders[2]).toBe(next);
	});

	it("within one message the arena keeps its instance and the memory it grew", async () => {
		await messagesOf("compute job_a", [null], async () => {
			const first = kernels.arena(LARGE_WINDOW).output.buffer;
			const second = kernels.arena(SMALL_WINDOW).output.buffer;
			expect(second.byteLength).toBe(first.byteLength);
		});
	});

	it("a message's kind is its stage and its job", () => {
		const kind = heavyMessageKind("compute", { job_id: "job_a", trace_id: "t", window: 3 });
		expect(heavyMessageKind("compute", { job_id: "job_a", window: 4 })).toBe(kind);
		expect(heavyMessageKind("compute", { job_id: "job_b", window: 3 })).not.toBe(kind);
		expect(heavyMessageKind("histogram", { job_id: "job_a", window: 3 })).not.toBe(kind);
	});
});
