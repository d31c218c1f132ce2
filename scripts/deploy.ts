/**
 * `npm run deploy -- --env <staging|production>`: from a Cloudflare account to a working
 * deployment, and the same command again to update it (docs/deploy.md).
 *
 *   --dry-run      print every step and the commands it would run; calls neither wrangler nor Cloudflare
 *   --url <url>    where to check /v1/health, when the Worker is not on workers.dev (a custom route)
 *   --sync-config  only rewrite wrangler.toml's environment sections from its top level (offline)
 *
 * The steps are data (planDeploy): each names what it does and the commands it may run, and does
 * it through a Runner, the only way out of the process besides the health check's fetch, so the
 * tests replace both. Every step first looks at what exists, so a run that stopped part-way is
 * finished by running it again, and a run over a complete environment only applies new
 * migrations and deploys.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { environmentResourceName } from "../src/environment-names";
import {
	type EnvironmentName,
	environmentNames,
	environmentResources,
	environmentSection,
	parseWranglerConfig,
	readEnvironmentVars,
	withEnvironmentSections,
} from "./deploy-config";

export interface CommandResult {
	status: number;
	stdout: string;
	stderr: string;
}

/** Runs the project's own wrangler (node_modules, on the Node running this script) or npm. */
export interface Runner {
	wrangler(args: string[]): Promise<CommandResult>;
	npm(args: string[]): Promise<CommandResult>;
}

/**
 * Secrets the Worker needs, each made once per environment: a run that finds one already set
 * leaves it alone, since replacing it would lose what was encrypted with it.
 */
export const workerSecrets = [
	{
		name: "WEBHOOK_SECRETS_KEY",
		purpose: "encrypts webhook signing secrets at rest",
		generate: () => randomBytes(32).toString("base64"),
	},
] as const;

/** What the steps learn from Cloudflare as they go. */
interface DeployState {
	databaseIds?: Map<string, string>;
	/** Names in each listing read so far, by its command ("queues list"). */
	listings: Map<string, Set<string>>;
	missingSecrets: string[];
	deployedUrl?: string;
}

export interface DeployContext {
	environment: EnvironmentName;
	configPath: string;
	runner: Runner;
	fetch: typeof fetch;
	log: (line: string) => void;
	/** Where to check health; otherwise the workers.dev address wrangler deploy prints. */
	url?: string;
	healthAttempts: number;
	healthRetryDelayMs: number;
	state: DeployState;
}

export interface Step {
	/** What the step does, as --dry-run and the progress lines say it. */
	title: string;
	/** The commands it may run, in order; "(if missing)" marks the conditional ones. */
	commands: string[];
	/** Does the step; returns what happened, in a few words. */
	run(context: DeployContext): Promise<string>;
}

/** A wrangler command that must succeed: its output, or an error carrying the end of what it printed. */
async function wrangler(context: DeployContext, args: string[]): Promise<string> {
	const result = await context.runner.wrangler(args);
	if (result.status !== 0) throw new Error(`\`wrangler ${args.join(" ")}\` failed:\n${tail(result)}`);
	return result.stdout;
}

function tail({ stdout, stderr }: CommandResult): string {
	const lines = `${stdout}\n${stderr}`.split("\n").filter((line) => line.trim() !== "");
	return lines
		.slice(-15)
		.map((line) => `    ${line}`)
		.join("\n");
}

/** Names in wrangler's human-readable listings (tables, "name: x" lines), read as whole words. */
function namesIn(output: string): Set<string> {
	return new Set(output.match(/[\w.-]+/g) ?? []);
}

/** A create that lost a race, or missed a listing's second page, finds the resource there: reuse it. */
function alreadyExists(result: CommandResult): boolean {
	return /already (exists|taken|in use)/i.test(`${result.stdout}\n${result.stderr}`);
}

async function listDatabases(context: DeployContext): Promise<Map<string, string>> {
	const output = await wrangler(context, ["d1", "list", "--json"]);
	const listed = JSON.parse(output.slice(output.indexOf("["))) as { name: string; uuid: string }[];
	return new Map(listed.map((database) => [database.name, database.uuid]));
}

function databaseStep(name: string): Step {
	return {
		title: `create D1 database ${name} unless it exists`,
		commands: ["wrangler d1 list --json  (once per run)", `wrangler d1 create ${name}  (if missing)`],
		async run(context) {
			context.state.databaseIds ??= await listDatabases(context);
			const existing = context.state.databaseIds.get(name);
			if (existing) return `exists (${existing}), reused`;
			await wrangler(context, ["d1", "create", name]);
			context.state.databaseIds = await listDatabases(context);
			const created = context.state.databaseIds.get(name);
			if (!created) throw new Error(`wrangler d1 create ${name} succeeded but \`wrangler d1 list\` does not show it`);
			return `created (${created})`;
		},
	};
}

/** A resource wrangler lists by name and creates by name: an R2 bucket or a queue. */
function listedResourceStep(kind: string, name: string, list: string[], create: string[]): Step {
	const listing = list.join(" ");
	return {
		title: `create ${kind} ${name} unless it exists`,
		commands: [`wrangler ${listing}  (once per run)`, `wrangler ${create.join(" ")}  (if missing)`],
		async run(context) {
			let names = context.state.listings.get(listing);
			if (!names) {
				names = namesIn(await wrangler(context, list));
				context.state.listings.set(listing, names);
			}
			if (names.has(name)) return "exists, reused";
			const result = await context.runner.wrangler(create);
			if (result.status !== 0 && !alreadyExists(result)) {
				throw new Error(`\`wrangler ${create.join(" ")}\` failed:\n${tail(result)}`);
			}
			names.add(name);
			return result.status === 0 ? "created" : "exists, reused";
		},
	};
}

function writeConfigStep(configPath: string): Step {
	return {
		title: `write the environment sections of ${configPath} from its top level, with the database ids`,
		commands: [],
		async run(context) {
			const ids = Object.fromEntries(context.state.databaseIds ?? []);
			const before = readFileSync(configPath, "utf8");
			const after = withEnvironmentSections(before, ids, readEnvironmentVars());
			if (after === before) return "already up to date";
			writeFileSync(configPath, after);
			return "written (commit it: it holds this account's database ids)";
		},
	};
}

function migrationsStep(environment: EnvironmentName, databases: string[]): Step {
	const args = ["d1", "migrations", "apply", "DB", "--remote", "--env", environment];
	return {
		title: `apply the D1 migrations ${databases.join(", ")} has not had yet`,
		commands: [`wrangler ${args.join(" ")}`],
		async run(context) {
			const output = await wrangler(context, args);
			return /No migrations to apply/i.test(output) ? "none new" : `applied:\n${indent(output)}`;
		},
	};
}

function secretsStep(environment: EnvironmentName, worker: string): Step {
	const names = workerSecrets.map((secret) => secret.name).join(", ");
	const args = ["secret", "list", "--format", "json", "--env", environment];
	return {
		title: `generate ${names} unless Worker ${worker} has it (random, never printed)`,
		commands: [`wrangler ${args.join(" ")}`],
		async run(context) {
			const result = await context.runner.wrangler(args);
			// Only a Worker not deployed yet has no secrets: no other failure may pass for that, or an
			// existing key would be replaced.
			const notDeployedYet = `${result.stdout}\n${result.stderr}`.includes(
				`Worker "${worker}" (env: ${environment}) not found`,
			);
			let existing: string[] = [];
			if (result.status === 0) {
				const listed = JSON.parse(result.stdout.slice(result.stdout.indexOf("["))) as { name: string }[];
				existing = listed.map((secret) => secret.name);
			} else if (!notDeployedYet) {
				throw new Error(`\`wrangler ${args.join(" ")}\` failed:\n${tail(result)}`);
			}
			context.state.missingSecrets = workerSecrets
				.map((secret) => secret.name)
				.filter((name) => !existing.includes(name));
			return context.state.missingSecrets.length === 0
				? "all set, kept"
				: `${context.state.missingSecrets.join(", ")} generated, uploaded with the deploy`;
		},
	};
}

function deployStep(environment: EnvironmentName, worker: string): Step {
	const args = ["deploy", "--env", environment];
	return {
		title: `deploy Worker ${worker}, with the secrets generated above`,
		commands: [`wrangler ${args.join(" ")} [--secrets-file <temporary file of the generated secrets>]`],
		async run(context) {
			const secrets = Object.fromEntries(
				workerSecrets
					.filter((secret) => context.state.missingSecrets.includes(secret.name))
					.map((secret) => [secret.name, secret.generate()]),
			);
			let output: string;
			if (Object.keys(secrets).length === 0) output = await wrangler(context, args);
			else {
				// Handed over in a file only this user can read, removed whatever happens; never logged.
				const directory = mkdtempSync(join(tmpdir(), "eo-edge-deploy-"));
				try {
					const file = join(directory, "secrets.json");
					writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
					output = await wrangler(context, [...args, "--secrets-file", file]);
				} finally {
					rmSync(directory, { recursive: true, force: true });
				}
			}
			context.state.deployedUrl = /https:\/\/[\w.-]+\.workers\.dev/.exec(output)?.[0];
			const version = /Current Version ID: (\S+)/.exec(output)?.[1];
			return `deployed${version ? ` (version ${version})` : ""}${context.state.deployedUrl ? ` at ${context.state.deployedUrl}` : ""}`;
		},
	};
}

function healthStep(url: string | undefined): Step {
	return {
		title: `check that GET ${url ?? "<the workers.dev URL wrangler deploy prints>"}/v1/health answers 200 "ok"`,
		commands: [],
		async run(context) {
			const base = context.url ?? context.state.deployedUrl;
			if (!base) {
				throw new Error(
					"wrangler deploy printed no workers.dev URL (is workers.dev turned off?): run again with --url https://<where the Worker answers>",
				);
			}
			const target = `${base.replace(/\/+$/, "")}/v1/health`;
			let last = "";
			for (let attempt = 1; attempt <= context.healthAttempts; attempt++) {
				try {
					const response = await context.fetch(target);
					const body = await response.text();
					if (response.ok && (JSON.parse(body) as { status?: string }).status === "ok") return `healthy: ${body}`;
					last = `answered ${response.status}: ${body.slice(0, 200)}`;
				} catch (error) {
					last = `unreachable (${error instanceof Error ? error.message : String(error)})`;
				}
				// A new workers.dev address takes a little while to answer everywhere.
				if (attempt < context.healthAttempts) await sleep(context.healthRetryDelayMs);
			}
			throw new Error(`GET ${target} ${last}, after ${context.healthAttempts} attempts: the deployment is not healthy`);
		},
	};
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function indent(text: string): string {
	return text
		.trim()
		.split("\n")
		.map((line) => `      ${line}`)
		.join("\n");
}

/** Every step of deploying `environment`, in order, from wrangler.toml's text. */
export function planDeploy(configText: string, environment: EnvironmentName, configPath: string, url?: string): Step[] {
	const config = parseWranglerConfig(configText);
	const section = environmentSection(config, environment, config.env?.[environment]);
	const resources = environmentResources(section);
	// Wrangler's name for an environment's Worker, unless its section names one.
	const worker = typeof section.name === "string" ? section.name : environmentResourceName(config.name, environment);
	return [
		{
			title: "build the Wasm modules and the docs page's script",
			commands: ["npm run build:wasm", "npm run build:docs"],
			async run(context) {
				for (const script of ["build:wasm", "build:docs"]) {
					const result = await context.runner.npm(["run", script]);
					if (result.status !== 0) throw new Error(`\`npm run ${script}\` failed:\n${tail(result)}`);
				}
				return "built";
			},
		},
		...resources.databases.map(databaseStep),
		...resources.buckets.map((bucket) =>
			listedResourceStep("R2 bucket", bucket, ["r2", "bucket", "list"], ["r2", "bucket", "create", bucket]),
		),
		...resources.queues.map((queue) =>
			listedResourceStep("queue", queue, ["queues", "list"], ["queues", "create", queue]),
		),
		...resources.deadLetterQueues.map((queue) =>
			listedResourceStep("dead-letter queue", queue, ["queues", "list"], ["queues", "create", queue]),
		),
		writeConfigStep(configPath),
		migrationsStep(environment, resources.databases),
		secretsStep(environment, worker),
		deployStep(environment, worker),
		healthStep(url),
	];
}

export interface DeployOptions {
	environment: string | undefined;
	dryRun: boolean;
	url?: string;
	configPath: string;
	runner: Runner;
	fetch: typeof fetch;
	/** The process environment: CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID. */
	variables: Record<string, string | undefined>;
	log: (line: string) => void;
	error: (line: string) => void;
	healthAttempts?: number;
	healthRetryDelayMs?: number;
}

/** Runs (or, with dryRun, prints) the deploy; resolves to the exit code. */
export async function deploy(options: DeployOptions): Promise<number> {
	const { log, error } = options;
	const environment = environmentNames.find((name) => name === options.environment);
	if (!environment) {
		error(
			`--env must be one of ${environmentNames.join(", ")}${options.environment ? `, not ${options.environment}` : ""}`,
		);
		return 2;
	}
	const steps = planDeploy(readFileSync(options.configPath, "utf8"), environment, options.configPath, options.url);
	const numbered = (index: number) => `[${index + 1}/${steps.length}]`;

	if (options.dryRun) {
		log(
			`Deploying EO Edge to ${environment}: dry run, nothing is called. A real run needs CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID.`,
		);
		steps.forEach((step, index) => {
			log(`${numbered(index)} ${step.title}`);
			for (const command of step.commands) log(`      ${command}`);
		});
		return 0;
	}

	const missing = ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID"].filter((name) => !options.variables[name]);
	if (missing.length > 0) {
		error(
			`${missing.join(" and ")} must be set: an API token that may edit Workers, D1, R2 and Queues, and the account's id (docs/deploy.md#before-the-first-deploy). Nothing was done.`,
		);
		return 2;
	}

	const context: DeployContext = {
		environment,
		configPath: options.configPath,
		runner: options.runner,
		fetch: options.fetch,
		log,
		url: options.url,
		healthAttempts: options.healthAttempts ?? 6,
		healthRetryDelayMs: options.healthRetryDelayMs ?? 5000,
		state: { listings: new Map(), missingSecrets: [] },
	};
	log(`Deploying EO Edge to ${environment}`);
	for (const [index, step] of steps.entries()) {
		try {
			log(`${numbered(index)} ${step.title}: ${await step.run(context)}`);
		} catch (failure) {
			error(`${numbered(index)} ${step.title}: FAILED`);
			error(failure instanceof Error ? failure.message : String(failure));
			error(
				index === steps.length - 1
					? "The Worker is deployed but not healthy: see its logs (docs/observability.md), fix, run again, or roll back (docs/deploy.md#rolling-back)."
					: `Stopped here; the steps after it did not run. What was made is reused by the next run: fix the cause and run \`npm run deploy -- --env ${environment}\` again.`,
			);
			return 1;
		}
	}
	log(`${environment} is deployed and healthy.`);
	return 0;
}

/** The Runner that runs the real commands: wrangler from node_modules on this Node, npm from PATH. */
export function processRunner(): Runner {
	const wranglerPackage = createRequire(import.meta.url).resolve("wrangler/package.json");
	const wranglerBin = join(dirname(wranglerPackage), "bin", "wrangler.js");
	const run = (command: string, args: string[]) =>
		new Promise<CommandResult>((resolve, reject) => {
			const child = spawn(command, args, {
				stdio: ["ignore", "pipe", "pipe"],
				env: { ...process.env, FORCE_COLOR: "0", WRANGLER_SEND_METRICS: "false" },
			});
			let stdout = "";
			let stderr = "";
			child.stdout.on("data", (chunk) => {
				stdout += chunk;
			});
			child.stderr.on("data", (chunk) => {
				stderr += chunk;
			});
			child.on("error", reject);
			child.on("close", (status) => resolve({ status: status ?? 1, stdout, stderr }));
		});
	return {
		wrangler: (args) => run(process.execPath, [wranglerBin, ...args]),
		npm: (args) => run("npm", args),
	};
}

async function main(): Promise<void> {
	const { values } = parseArgs({
		options: {
			env: { type: "string" },
			"dry-run": { type: "boolean", default: false },
			url: { type: "string" },
			"sync-config": { type: "boolean", default: false },
		},
	});
	const configPath = "wrangler.toml";
	if (values["sync-config"]) {
		writeFileSync(configPath, withEnvironmentSections(readFileSync(configPath, "utf8"), {}, readEnvironmentVars()));
		console.log(`${configPath}: environment sections (${environmentNames.join(", ")}) rewritten from the top level`);
		return;
	}
	process.exitCode = await deploy({
		environment: values.env,
		dryRun: values["dry-run"],
		url: values.url,
		configPath,
		runner: processRunner(),
		fetch,
		variables: process.env,
		log: (line) => console.log(line),
		error: (line) => console.error(line),
	});
}

if (import.meta.filename === process.argv[1]) await main();
