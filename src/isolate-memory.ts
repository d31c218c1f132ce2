/**
 * What one isolate holds at once. One worker serves the HTTP API and consumes every queue, and
 * an isolate has 128 MB for all of it: its requests, every queue batch it is handed (more than
 * one invocation may share an isolate) and what stays allocated between them. The sum is kept
 * under that by letting only one heavy task run in an isolate at a time; everything else is
 * small by construction.
 *
 *   one heavy task at a time, the largest of:                               64 MiB
 *     a compute strip (STRIP_BUDGET_BYTES, the kernels' arena included)     64 MiB
 *     store's overviews or one result part (STORE_BUDGET_BYTES)             64 MiB
 *     a preview (publish, or GET preview.png?colormap=…): a level of at
 *       most 1024² float32 values, its RGBA, PNG rows and output            ~20 MiB
 *     validate: the headers of a job's inputs, each under RASTER_MAX_BLOCKS
 *   Wasm memories, which keep the size they grew to (they cannot shrink):
 *     the kernels' arena, the largest strip's inputs and output (at most
 *       about 2/3 of the strip budget)                                      ≤ 43 MiB
 *     the Zstandard decoder: one block out (RASTER_MAX_BLOCK_BYTES) and in  ≤ 32 MiB
 *   light work, any number at once: ingest's 8-byte probes, dead-letter
 *     rows, uploads and parts streamed to R2 (never held whole), ranged
 *     artifact reads, D1 reads                                              ~ 1 MiB each
 *   code, Wasm modules and the runtime                                      ~10 MiB
 *
 * Wasm memories would otherwise keep the size they grew to for the isolate's life: store (64)
 * after a full-budget strip (43) and a ZSTD block of 16 MiB (32), with the runtime (10), would
 * be about 149 MiB. So every Wasm instance is dropped when a heavy task ends
 * (releaseWasmInstances) and made again by the next task that needs it: a task holds only the
 * Wasm memory it grew itself. The worst case is then one heavy task with the decoders it uses,
 * a compute strip (64, its arena included) decoding ZSTD blocks (32), with the runtime (10) and
 * a few light requests: about 110 MiB. Raising STRIP_BUDGET_BYTES or STORE_BUDGET_BYTES, or
 * RASTER_MAX_BLOCK_BYTES, eats into the remaining margin.
 */
import { releaseWasmInstances } from "./wasm/instances";

let tail: Promise<unknown> = Promise.resolve();

/**
 * Runs `work` once every heavy task started before it in this isolate has settled, so no two
 * overlap; a failure is the caller's and does not stop the tasks queued after it.
 */
export function runHeavy<T>(work: () => Promise<T>): Promise<T> {
	const run = tail.then(work).finally(releaseWasmInstances);
	tail = run.catch(() => undefined);
	return run;
}
