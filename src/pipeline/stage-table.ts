/**
 * Every stage a job can be sent to, by name: the production table (./stages.ts) and any stage
 * a build adds beside it (registerStage in ./registry.ts). Sends, window progress and the order
 * of a job's stages look stages up here, so a stage added this way runs like the others.
 */
import { pipelineStages, type StageDefinition } from "./stages";

const table = new Map<string, StageDefinition>(Object.entries(pipelineStages));

export function stageDefinition(stage: string): StageDefinition {
	const definition = table.get(stage);
	if (!definition) throw new Error(`no stage is named ${stage}`);
	return definition;
}

export function addStageDefinition(stage: string, definition: StageDefinition): void {
	if (table.has(stage)) throw new Error(`a stage named ${stage} exists already`);
	table.set(stage, definition);
}

/**
 * The progress of a window stage once `done` of its `total` windows are done: from the stage's
 * own share up to the next stage's in the job's sequence.
 */
export function windowProgress(stage: string, sequence: readonly string[]): (done: number, total: number) => number {
	const start = stageDefinition(stage).progress;
	const next = sequence[sequence.indexOf(stage) + 1];
	const end = next === undefined ? 1 : stageDefinition(next).progress;
	return (done, total) => start + (end - start) * (total === 0 ? 1 : done / total);
}
