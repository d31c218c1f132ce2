// Node module hook for bench:scene: `import module from "x.wasm"` gives a compiled
// WebAssembly.Module, as wrangler's CompiledWasm rule does in the Worker, so the worker's own
// stage code runs unchanged under Node.
import { register } from "node:module";

register(
	`data:text/javascript,${encodeURIComponent(`
export async function load(url, context, nextLoad) {
	if (!url.endsWith(".wasm")) return nextLoad(url, context);
	return {
		format: "module",
		shortCircuit: true,
		source: "import { readFileSync } from 'node:fs'; export default new WebAssembly.Module(readFileSync(new URL(" + JSON.stringify(url) + ")));",
	};
}`)}`,
);
