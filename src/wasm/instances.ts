/**
 * Wasm instances made on first use and kept between heavy tasks of one stage and job: a Wasm
 * memory never shrinks, and every page of a fresh one faults once as the next task writes it, which
 * bench:scene measured at half of a compute window's CPU (66 windows of a scene: 6.49 s of
 * compute with the instances made afresh each window, 3.13 s with them kept), as bench:fields
 * had for a spread zonal job's. A memory kept for the next message of the stage and job that
 * grew it (windows of one plan) is that message's own room, inside the budget it was grown
 * under. Before a heavy message of another stage or job (a store block after the largest
 * window, say) every instance is dropped, so one task's memory is never held beside another's
 * (src/isolate-memory.ts).
 */

interface Releasable {
	/** The bytes of the instance's memories (those made through {@link instantiate}), 0 when none is made. */
	bytes(): number;
	/** Whether the instance still holds a task's data (a decoded block never freed). */
	holdsData(): boolean;
	drop(): void;
}

const instances: Releasable[] = [];

/** The memories of the instances made through {@link instantiate} while a create() runs. */
let making: WebAssembly.Memory[] | null = null;

/** A new instance of `module`, its exported memory noted for {@link keptWasmBytes}. */
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

/** Before a heavy message of another stage or job than the last: drops every instance, so its memory can be collected; the next use makes it again. */
export function releaseWasmInstances(): void {
	for (const entry of instances) entry.drop();
}

/** After a heavy message: drops the instances that still hold its data, so the next message starts on an empty memory. */
export function dropInstancesHoldingData(): void {
	for (const entry of instances) if (entry.holdsData()) entry.drop();
}

/** The bytes of the memories of the instances made and not dropped. */
export function keptWasmBytes(): number {
	return instances.reduce((sum, entry) => sum + entry.bytes(), 0);
}
