/**
 * Wasm instances made on first use and kept between heavy tasks of one stage: a Wasm memory
 * never shrinks, and every page of a fresh one faults once as the next task writes it, which
 * bench:scene measured at half of a compute window's CPU (66 windows of a scene: 6.49 s of
 * compute with the instances made afresh each window, 2.65 s with them kept). A memory kept for
 * the next message of the stage that grew it is that message's own room, inside the stage's
 * budget. Before a heavy message of another stage (a store block after the largest window,
 * say) the instances over WASM_KEPT_BYTES are dropped, so one stage's memory is never held
 * beside another's (src/isolate-memory.ts).
 */

/**
 * The most Wasm memory all kept instances together hold from one stage's heavy message into
 * another's. bench:fields measured what making the instances again costs a compute window that
 * weighs a few fields (a 3.3 MiB block decoder and a 1.4 MiB kernels memory, made afresh every
 * window): half of a spread job's CPU (spread, 1 date: 9.56 s of compute against 4.86 s with
 * them kept). It is part of a heavy message's 64 MiB, not on top of it: STRIP_BUDGET_BYTES
 * leaves it out (src/isolate-memory.ts).
 */
export const WASM_KEPT_BYTES = 8 * 1024 * 1024;

interface Releasable {
	/** The bytes of the instance's memories, 0 when none is made, null when they went unnoted. */
	bytes(): number | null;
	/** Whether the instance still holds a task's data (a decoded block never freed). */
	holdsData(): boolean;
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

/**
 * The instance `create` makes (through {@link instantiate}), made again on the first `get()`
 * after a release dropped it. `holdsData` says whether the instance still holds something of a
 * task that ended (a block its window never freed): such an instance is not handed to the next.
 */
export function releasable<T>(create: () => T, holdsData: (instance: T) => boolean = () => false): { get(): T } {
	let instance: T | null = null;
	let memories: WebAssembly.Memory[] = [];
	instances.push({
		bytes() {
			if (instance === null) return 0;
			// An instance whose memory went unnoted is dropped: nothing says how much it holds.
			if (memories.length === 0) return null;
			return memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0);
		},
		holdsData() {
			return instance !== null && holdsData(instance);
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
 * Before a heavy message of another stage than the last: keeps instances, in the order they
 * were declared, while their memories together stay within WASM_KEPT_BYTES, and drops the rest
 * so their memories can be collected; the next use makes them again.
 */
export function releaseWasmInstances(): void {
	let kept = 0;
	for (const entry of instances) {
		const bytes = entry.bytes();
		if (bytes !== null && kept + bytes <= WASM_KEPT_BYTES) kept += bytes;
		else entry.drop();
	}
}

/** After a heavy message: drops the instances that still hold its data, so the next message starts on an empty memory. */
export function dropInstancesHoldingData(): void {
	for (const entry of instances) if (entry.holdsData()) entry.drop();
}

/** The bytes of the memories of the instances made and not dropped. */
export function keptWasmBytes(): number {
	return instances.reduce((sum, entry) => sum + (entry.bytes() ?? 0), 0);
}
