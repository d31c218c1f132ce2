/**
 * Writes openapi/v1.json from the zod route definitions (`npm run openapi`); with --check it
 * fails when the committed document differs from what the code generates (contract drift).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { DOCUMENT_PATH, generateDocument } from "./contract-document";

const generated = generateDocument();
if (process.argv.includes("--check")) {
	let committed = "";
	try {
		committed = readFileSync(DOCUMENT_PATH, "utf8");
	} catch {
		// A missing document is drift like any other.
	}
	if (committed !== generated) {
		console.error(
			`contract drift: ${DOCUMENT_PATH} is not what the routes generate; run \`npm run openapi\` and review the diff`,
		);
		process.exit(1);
	}
	console.log(`contract check: ${DOCUMENT_PATH} matches the routes`);
} else {
	writeFileSync(DOCUMENT_PATH, generated);
	console.log(`wrote ${DOCUMENT_PATH}`);
}
