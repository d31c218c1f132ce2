/**
 * What one isolate holds at once. One worker serves the HTTP API and consumes every queue, and
 * an isolate has 128 MB for all of it: its requests, the queue batches it is handed and what
 * stays allocated between them.
 *
 *   one heavy message at a time per invocation, with the Wasm instances
 *   kept from the message of its stage and job before it (src/wasm/
 *   instances.ts) counted in, the largest of:                               64 MiB
 *     a compute window (STRIP_BUDGET_BYTES, 64 MiB, the kernels' arena
 *       and the decoded blocks the block decoder's memory holds until the
 *       window is released included)                                        64 MiB
 *     a store invocation: an overview block or one part of result.tif
 *       (at most 16 MiB whatever the raster; STORE_BUDGET_BYTES caps it)    16 MiB
 *     a preview (publish): a level of at most 1024² float32 values, its
 *       RGBA, PNG rows and output                                           ~20 MiB
 *     validate: the headers of a job's inputs, each under RASTER_MAX_BLOCKS
 *   the Wasm memory the task grows besides its budget: the Zstandard
 *     decoder, one block out (RASTER_MAX_BLOCK_BYTES, 8 MiB) and the block
 *     in (at most twice that, the structure check's bound)                  ≤ 24 MiB
 *   light work, any number at once: ingest's 8-byte probes and STAC
 *     documents (one of at most 1 MiB parsed at a time, the items kept
 *     only as the assets the job reads), dead-letter rows, uploads and
 *     parts streamed to R2 (never held whole), ranged artifact reads,
 *     D1 reads                                                              ~ 1 MiB each
 *   the zonal accumulator, sort and coverage scratch, kept for the isolate
 *     and let go past 65 536 pairs or pixels after each field and window
 *     (src/processes/zonal/weighted-statistics.ts, compute.ts)              ~ 2 MiB
 *   an HTTP preview redraw (GET preview.png?colormap=…)                     ~20 MiB
 *   code, Wasm modules and the runtime                                      ~10 MiB
 *
 * Heavy stages take batches of one (wrangler.toml, checked by check:stages), and a batch that
 * holds more runs its messages one after another. Wasm memories never shrink, and a fresh one
 * faults in page by page as a task writes it (half of a compute window's CPU in bench:scene and
 * bench:fields). So the Wasm instances a heavy message grew are kept for the next message of
 * the same stage and job, whose windows share one plan and budget, so it reuses their memories
 * within the budget they were grown under; before a message of another stage or job they are
 * dropped, to be made again by the next message that needs them: a task never holds a store
 * block beside the arena of the largest window before it (43), nor one job's decoder beside
 * another's arena, and a heavy message's 64 MiB is its stage's budget whole. An instance that
 * still holds a message's data when it ends (a block never freed) is dropped. (Keeping 8 MiB
 * of instances into every stage, as before, cut a compute window's budget to 56 MiB, where a
 * full-width window over a 10980-pixel scene in one-row strips does not fit, so each strip was
 * decoded twice.) One heavy invocation with a few requests and a redraw is then at most
 * 64 + 24 + 20 + 10 + a few = about 120 MiB (126 MB, under the 128 MB limit) in the worst case,
 * a full window of the largest ZSTD blocks while a redraw runs, and about 75 MiB for a window of
 * ordinary (1 MiB) blocks. Raising STRIP_BUDGET_BYTES or RASTER_MAX_BLOCK_BYTES breaks this
 * sum. `npm run bench:scene` measures each invocation and a full light batch.
 *
 * Messages of separate invocations are not ordered: workerd cancels a request that waits on a
 * promise another request settles, so an isolate cannot queue one invocation's work behind
 * another's. If the platform hands one isolate two heavy invocations at once they add up; the
 * budgets above leave no room for that and the docs say so (docs/operations.md).
 */
import { dropInstancesHoldingData, keptWasmBytes, releaseWasmInstances } from "./wasm/instances";

/** A heavy message's share of the isolate (the table above), its kept Wasm instances included; check:stages holds STRIP_BUDGET_BYTES to it. */
export const HEAVY_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The kind of heavy message this isolate ran last: the next message of that kind reuses its Wasm instances. */
let lastHeavyKind: string | null = null;
/** The Wasm memory the heavy message now running began with, kept from the one before it; 0 between batches. */
let inheritedWasmBytes = 0;

/**
 * Before a heavy message of `kind` (its stage and job: one job's windows share a plan, so the
 * memories one grew are what the next one needs): drops every Wasm instance unless the message
 * before it was of the same kind. Doing it again for the same kind changes nothing.
 */
export function enterHeavyMessage(kind: string): void {
	if (kind === lastHeavyKind) return;
	releaseWasmInstances();
	lastHeavyKind = kind;
}

/**
 * Runs `work` on each of a heavy stage's items in turn, so one item's memory is never held
 * beside the next one's. The Wasm instances stay for the next item of the same kind (`kindOf`:
 * its stage and job), which reuses their memories; before an item of another kind they are
 * dropped, and after every item an instance still holding its data is dropped. Only within
 * one invocation (see above).
 */
export async function oneAtATime<T>(
	items: readonly T[],
	kindOf: (item: T) => string,
	work: (item: T) => Promise<void>,
): Promise<void> {
	try {
		for (const item of items) {
			enterHeavyMessage(kindOf(item));
			inheritedWasmBytes = keptWasmBytes();
			try {
				await work(item);
			} finally {
				dropInstancesHoldingData();
			}
		}
	} finally {
		inheritedWasmBytes = 0;
	}
}

/**
 * The Wasm memory the heavy message now running began with (kept from the one before it, and
 * part of its footprint though allocated before it), 0 outside a heavy batch: bench/node-pipeline.ts
 * adds it to what it measures above the level before the message.
 */
export function wasmBytesInherited(): number {
	return inheritedWasmBytes;
}
