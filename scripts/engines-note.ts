/**
 * Postinstall: one sentence in place of npm's wall of engine warnings. npm checks each
 * package's `engines.node` against the Node that runs npm (20 on these machines), while every
 * npm script runs the packages on the `node` devDependency, first on PATH. npm cannot silence
 * one warning code, so .npmrc shows only errors; this says what was hidden and why it is fine,
 * and warns loudly if a package needs more than the Node the scripts run on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

type Version = [number, number, number];

function parseVersion(text: string): Version | null {
	const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text.trim());
	if (!match) return null;
	return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

function compare(a: Version, b: Version): number {
	return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Whether `version` meets an `engines.node` range. Only the forms the lockfile holds are read
 * (`>=X.Y.Z`, `^X.Y.Z`, joined by `||`); any other alternative counts as met, so that this
 * note never claims more than npm would.
 */
export function satisfies(version: Version, range: string): boolean {
	return range.split("||").some((alternative) => {
		const match = /^(>=|\^)\s*(\S+)$/.exec(alternative.trim());
		const floor = match?.[2] === undefined ? null : parseVersion(match[2]);
		if (!match || !floor) return true;
		if (compare(version, floor) < 0) return false;
		return match[1] === ">=" || version[0] === floor[0];
	});
}

/** The lockfile's packages, by name, whose `engines.node` the version does not meet. */
export function unmet(lockfile: string, version: Version): string[] {
	const { packages } = JSON.parse(lockfile) as {
		packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }>;
	};
	return Object.entries(packages)
		.filter(([path, entry]) => {
			const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
			// npm skips optional packages it cannot use instead of warning about them.
			return path !== "" && !entry.optional && range !== undefined && !satisfies(version, range);
		})
		.map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
}

if (import.meta.filename === process.argv[1]) {
	// npm names its own Node in the user agent it gives scripts; `node` here is the devDependency.
	const npmNode = /\bnode\/(v[\d.]+)/.exec(process.env.npm_config_user_agent ?? "")?.[1];
	const npmVersion = npmNode === undefined ? null : parseVersion(npmNode);
	const scriptsVersion = parseVersion(process.version);
	if (npmVersion !== null && scriptsVersion !== null) {
		const lockfile = readFileSync(join(import.meta.dirname, "..", "package-lock.json"), "utf8");
		const tooNew = unmet(lockfile, scriptsVersion);
		if (tooNew.length > 0) {
			console.warn(`These packages need a newer Node than ${process.version}, the one npm scripts run on: ${tooNew}`);
			process.exitCode = 1;
		} else {
			const warned = unmet(lockfile, npmVersion);
			if (warned.length > 0) {
				const { dependencies = {}, devDependencies = {} } = JSON.parse(
					readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"),
				) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
				const direct = warned.filter((name) => name in dependencies || name in devDependencies);
				console.log(
					`npm ran on Node ${npmNode}; ${warned.length} packages ask for a newer one (among them ${direct.join(", ")}). ` +
						`The npm scripts run them on Node ${process.version}, the \`node\` devDependency, so .npmrc hides ` +
						"npm's engine warnings (loglevel=error); `npm install --loglevel=warn` shows them.",
				);
			}
		}
	}
}
