/** CLI of the stage registry check (part of `npm run check`); see stage-check.ts. */
import { readFileSync } from "node:fs";
import { stageNames } from "../src/pipeline/stages";
import { findStageProblems } from "./stage-check";

const configPath = process.argv[2] ?? "wrangler.toml";
const problems = findStageProblems(readFileSync(configPath, "utf8"), configPath);
if (problems.length > 0) {
	console.error(`stage registry check: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join("\n")}`);
	process.exit(1);
}
console.log(`stage registry check: ${stageNames.length} stages and the dead-letter queue match ${configPath}`);
