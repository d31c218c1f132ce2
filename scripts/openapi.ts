/**
 * Writes openapi/vN.json, one per major version, from the zod route definitions
 * (`npm run openapi`); with --check it fails when the committed documents differ from what
 * the code generates (contract drift), including a committed document no route produces.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTRACT_DIR, DOCUMENT_FILE_PATTERN, generateDocuments } from "./contract-document";

const generated = generateDocuments();
const committedFiles = readdirSync(CONTRACT_DIR)
	.filter((name) => DOCUMENT_FILE_PATTERN.test(name))
	.map((name) => join(CONTRACT_DIR, name));

if (process.argv.includes("--check")) {
	const drifted = [...new Set([...generated.keys(), ...committedFiles])].filter((file) => {
		let committed: string | null = null;
		try {
			committed = readFileSync(file, "utf8");
		} catch {
			// A missing document is drift like any other.
		}
		return committed !== (generated.get(file) ?? null);
	});
	if (drifted.length > 0) {
		console.error(
			`contract drift: ${drifted.join(", ")} not what the routes generate; run \`npm run openapi\` and review the diff`,
		);
		process.exit(1);
	}
	console.log(`contract check: ${[...generated.keys()].join(", ")} match the routes`);
} else {
	for (const [file, text] of generated) {
		writeFileSync(file, text);
		console.log(`wrote ${file}`);
	}
}
