/**
 * The processes this build runs, by name. Processes register themselves from src/processes/
 * (the worker imports that list); the pipeline only looks them up, so it depends on no process.
 */
import type { Process } from "./stage";

const registered = new Map<string, Process>();

export function registerProcess(process: Process): void {
	const existing = registered.get(process.name);
	if (existing && existing !== process) throw new Error(`a process named ${process.name} is registered already`);
	registered.set(process.name, process);
}

export function processNamed(name: string): Process | undefined {
	return registered.get(name);
}
