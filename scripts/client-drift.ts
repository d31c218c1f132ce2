/**
 * Fails when openapi/client/src/generated is not what the generator makes of the committed
 * openapi/v1.json (`npm run client` regenerates it), so the partner client never drifts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { createClient } from "@hey-api/openapi-ts";
import { generatorConfig } from "../openapi/client/openapi-ts.config";

const CLIENT_DIR = "openapi/client";
const GENERATED_DIR = join(CLIENT_DIR, generatorConfig.output.path);

function readTree(root: string): Map<string, string> {
	const files = new Map<string, string>();
	for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
		if (!entry.isFile()) continue;
		const path = join(entry.parentPath, entry.name);
		files.set(relative(root, path), readFileSync(path, "utf8"));
	}
	return files;
}

const scratch = mkdtempSync(join(tmpdir(), "eo-edge-client-"));
try {
	await createClient({
		...generatorConfig,
		input: resolve(CLIENT_DIR, generatorConfig.input),
		output: { ...generatorConfig.output, path: scratch },
		logs: { level: "silent" },
	});
	const expected = readTree(scratch);
	const committed = readTree(GENERATED_DIR);
	const differing = [...new Set([...expected.keys(), ...committed.keys()])].filter(
		(file) => expected.get(file) !== committed.get(file),
	);
	if (differing.length > 0) {
		console.error(
			`client drift: ${differing.join(", ")} in ${GENERATED_DIR} differ from what openapi/v1.json generates; run \`npm run client\``,
		);
		process.exit(1);
	}
	console.log(`client check: ${GENERATED_DIR} matches openapi/v1.json (${expected.size} files)`);
} finally {
	rmSync(scratch, { recursive: true, force: true });
}
