/**
 * Wasm instances made on first use and dropped between heavy tasks. A Wasm memory never
 * shrinks: an instance kept for the isolate's life would hold the largest window it ever
 * decoded or evaluated while the next task (store after a full-budget strip, say) needs the
 * room. Dropping the instances lets that memory be collected; making them again costs well
 * under a millisecond against a task's hundreds.
 */

const resets: (() => void)[] = [];

/** The instance `create` makes, made on the first `get()` after each release. */
export function releasable<T>(create: () => T): { get(): T } {
	let instance: T | null = null;
	resets.push(() => {
		instance = null;
	});
	return {
		get() {
			instance ??= create();
			return instance;
		},
	};
}

/** Drops every instance, so their memories can be collected; the next use makes new ones. */
export function releaseWasmInstances(): void {
	for (const reset of resets) reset();
}
