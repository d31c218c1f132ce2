/**
 * CLI of the stage registry check (part of `npm run check`); see stage-check.ts. The deployed
 * environments' queues must mirror the top level's, which the registry is held to
 * (deploy-config.ts).
 */
import { readFileSync } from "node:fs";
import { stageNames } from "../src/pipeline/stages";
import { environmentNames, findEnvironmentProblems, readEnvironmentVars } from "./deploy-config";
import { findStageProblems } from "./stage-check";

const configPath = process.argv[2] ?? "wrangler.toml";
const text = readFileSync(configPath, "utf8");
const problems = [
	...findStageProblems(text, configPath),
	...findEnvironmentProblems(text, configPath, readEnvironmentVars()),
];
if (problems.length > 0) {
	console.error(`stage registry check: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join("\n")}`);
	process.exit(1);
}
console.log(
	`stage registry check: ${stageNames.length} stages and the dead-letter queue match ${configPath}, and so do its environments (${environmentNames.join(", ")})`,
);
