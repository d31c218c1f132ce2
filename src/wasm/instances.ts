/**
 * Wasm instances made on first use and dropped between heavy tasks when their memories have
 * grown. A Wasm memory never shrinks: an instance kept for the isolate's life would hold the
 * largest window it ever decoded or evaluated while the next task (store after a full-budget
 * strip, say) needs the room. Small ones are kept: making an instance again costs little by
 * itself, but every page of its fresh memory faults once as the next task writes it.
 */

/**
 * The most Wasm memory all kept instances together hold between heavy tasks. bench:fields
 * measured what making the instances again costs a compute window that weighs a few fields (a
 * 3.3 MiB block decoder and a 1.4 MiB kernels memory, made afresh every window): half of a
 * spread job's CPU (spread, 1 date: 9.56 s of compute against 4.86 s with them kept). It is
 * part of a heavy message's 64 MiB, not on top of it: STRIP_BUDGET_BYTES leaves it out
 * (src/isolate-memory.ts).
 */
export const WASM_KEPT_BYTES = 8 * 1024 * 1024;

interface Releasable {
	/** The bytes of the instance's memories, 0 when none is made, null when they went unnoted. */
	bytes(): number | null;
	drop(): void;
}

const instances: Releasable[] = [];

/** The memories of the instances made through {@link instantiate} while a create() runs. */
let making: WebAssembly.Memory[] | null = null;

/** A new instance of `module`, its exported memory noted for the release that weighs it. */
export function instantiate(module: WebAssembly.Module, imports: WebAssembly.Imports = {}): WebAssembly.Instance {
	const instance = new WebAssembly.Instance(module, imports);
	const { memory } = instance.exports;
	if (making && memory instanceof WebAssembly.Memory) making.push(memory);
	return instance;
}

/** The instance `create` makes (through {@link instantiate}), made again on the first `get()` after a release dropped it. */
export function releasable<T>(create: () => T): { get(): T } {
	let instance: T | null = null;
	let memories: WebAssembly.Memory[] = [];
	instances.push({
		bytes() {
			if (instance === null) return 0;
			// An instance whose memory went unnoted is dropped: nothing says how much it holds.
			if (memories.length === 0) return null;
			return memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
		},
		drop() {
			instance = null;
			memories = [];
		},
	});
	return {
		get() {
			if (instance === null) {
				const outer = making;
				making = [];
				try {
					instance = create();
					memories = making;
				} finally {
					making = outer;
				}
			}
			return instance;
		},
	};
}

/**
 * Keeps instances, in the order they were declared, while their memories together stay within
 * WASM_KEPT_BYTES, and drops the rest so their memories can be collected; the next use makes
 * them again.
 */
export function releaseWasmInstances(): void {
	let kept = 0;
	for (const entry of instances) {
		const bytes = entry.bytes();
		if (bytes !== null && kept + bytes <= WASM_KEPT_BYTES) kept += bytes;
		else entry.drop();
	}
}
