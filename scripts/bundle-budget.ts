/**
 * Builds the production bundle as `wrangler deploy` would (--dry-run, nothing uploaded), prints
 * its raw and gzipped size, and fails above the budget in package.json (config.bundleBudgetGzipBytes):
 * the bundle is what every cold start loads, and Workers allow 1 s to start.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const OUT_DIR = join("build", "bundle");
const { config } = JSON.parse(readFileSync("package.json", "utf8")) as { config: { bundleBudgetGzipBytes: number } };
const budget = config.bundleBudgetGzipBytes;

rmSync(OUT_DIR, { recursive: true, force: true });
const build = spawnSync("wrangler", ["deploy", "--dry-run", "--outdir", OUT_DIR], {
	encoding: "utf8",
	env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
if (build.status !== 0) {
	console.error(build.stdout, build.stderr);
	console.error(`bundle: wrangler deploy --dry-run failed (exit ${build.status})`);
	process.exit(1);
}

const files = readdirSync(OUT_DIR, { recursive: true, withFileTypes: true })
	.filter((entry) => entry.isFile() && !entry.name.endsWith(".map") && entry.name !== "README.md")
	.map((entry) => join(entry.parentPath, entry.name));
let raw = 0;
let gzipped = 0;
for (const file of files) {
	raw += statSync(file).size;
	gzipped += gzipSync(readFileSync(file), { level: 9 }).length;
}
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`bundle: ${files.length} files, ${kib(raw)} raw, ${kib(gzipped)} gzipped (budget ${kib(budget)} gzipped)`);
if (gzipped > budget) {
	console.error(`bundle: ${kib(gzipped)} gzipped is over the ${kib(budget)} budget`);
	process.exit(1);
}
