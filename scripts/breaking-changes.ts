/**
 * `npm run check:breaking`: compares the document the routes generate with the contract
 * partners already have, the committed openapi/v1.json at the base revision, and fails on a
 * breaking change unless openapi/CHANGELOG.md carries a reviewed entry for it. Breaking
 * changes that partners must not get silently belong in a new major version (/v2 and
 * openapi/v2.json), which leaves v1 untouched.
 *
 * The base revision is $CONTRACT_BASE_REF, else where HEAD left origin/main, else HEAD: on a
 * branch that is what the branch changes, in a working copy what is not yet committed.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type BreakingChange, findBreakingChanges, unacknowledged } from "./contract-diff";
import { CONTRACT_DIR, DOCUMENT_FILE_PATTERN, generateDocuments } from "./contract-document";

const CHANGELOG_PATH = "openapi/CHANGELOG.md";

function git(...args: string[]): string | null {
	try {
		return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
	} catch {
		return null;
	}
}

function baseRevision(): string | null {
	const configured = process.env.CONTRACT_BASE_REF;
	if (configured) return git("rev-parse", "--verify", configured);
	if (git("rev-parse", "--verify", "-q", "origin/main")) return git("merge-base", "HEAD", "origin/main");
	return git("rev-parse", "--verify", "-q", "HEAD");
}

const revision = baseRevision();
if (!revision) {
	console.log("breaking-change check: no git history to compare with; nothing to check");
	process.exit(0);
}
const base = revision.slice(0, 12);

/** The committed documents at the base revision, by file path. */
function baselineDocuments(): Map<string, unknown> {
	const listing = git("ls-tree", "--name-only", `${revision}:${CONTRACT_DIR}`) ?? "";
	const files = listing.split("\n").filter((name) => DOCUMENT_FILE_PATTERN.test(name));
	return new Map(
		files.map((name) => [
			`${CONTRACT_DIR}/${name}`,
			JSON.parse(git("show", `${revision}:${CONTRACT_DIR}/${name}`) ?? "{}"),
		]),
	);
}

const generated = generateDocuments();
const baseline = baselineDocuments();
const changes: BreakingChange[] = [];
for (const [file, before] of baseline) {
	// A major version whose routes are all gone is compared with an empty document: every
	// operation in it is a removed operation.
	const after = generated.has(file) ? JSON.parse(generated.get(file) as string) : { ...(before as object), paths: {} };
	changes.push(...findBreakingChanges(before, after));
}
for (const file of generated.keys()) {
	if (!baseline.has(file)) console.log(`breaking-change check: ${file} is new since ${base}; nothing to compare`);
}

const open = unacknowledged(changes, readFileSync(CHANGELOG_PATH, "utf8"));
for (const change of changes) {
	const status = open.includes(change) ? "BREAKING" : "reviewed";
	console.log(`${status} ${change.kind}: ${change.location}\n  ${change.description}`);
}
if (open.length > 0) {
	console.error(
		`\nbreaking-change check: ${open.length} breaking change${open.length === 1 ? "" : "s"} to a published contract since ${base}.
Keep it compatible, move the change to a new major version (/v2, openapi/v2.json), or, once reviewed,
acknowledge each in ${CHANGELOG_PATH} with a line such as:
${open.map((change) => `- breaking: \`${change.location}\` <why partners are not hurt>. Reviewed-by: <name>`).join("\n")}`,
	);
	process.exit(1);
}
const compared = [...baseline.keys()].join(", ") || "no documents";
console.log(
	`breaking-change check: ${compared} against ${base}: ${changes.length === 0 ? "no breaking changes" : `${changes.length} reviewed breaking change(s)`}`,
);
