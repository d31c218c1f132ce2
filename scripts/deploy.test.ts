/** `npm run deploy` against a simulated Cloudflare account: no wrangler, no network. */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { environmentResourceName, topLevelResourceName } from "../src/environment-names";
import { type CommandResult, type DeployOptions, deploy, type Runner, workerSecrets } from "./deploy";
import {
	type EnvironmentSection,
	environmentNames,
	environmentResources,
	environmentSection,
	findEnvironmentProblems,
	parseWranglerConfig,
	readEnvironmentVars,
	withEnvironmentSections,
} from "./deploy-config";

const ok = (stdout = ""): CommandResult => ({ status: 0, stdout, stderr: "" });
const failed = (stderr: string): CommandResult => ({ status: 1, stdout: "", stderr });

/** What a Cloudflare account holds, answering the wrangler commands the deploy runs as wrangler would print. */
class FakeAccount {
	databases = new Map<string, string>();
	buckets = new Set<string>();
	queues = new Set<string>();
	/** Worker name → its secrets. */
	workers = new Map<string, Map<string, string>>();
	commands: string[] = [];
	/** A command that fails, as an API error would. */
	failing: string | null = null;

	runner(): Runner {
		return {
			wrangler: async (args) => this.wrangler(args),
			npm: async (args) => {
				this.commands.push(`npm ${args.join(" ")}`);
				return ok();
			},
		};
	}

	private wrangler(args: string[]): CommandResult {
		const command = `wrangler ${args.join(" ")}`;
		this.commands.push(command);
		if (this.failing && command.startsWith(this.failing)) {
			return failed("✘ [ERROR] A request to the Cloudflare API failed. Authentication error [code: 10000]");
		}
		const [group, verb, name = ""] = args;
		const environment = args[args.indexOf("--env") + 1] ?? "";
		const bucket = args[3] ?? "";
		switch (`${group} ${verb}`) {
			case "d1 list":
				return ok(JSON.stringify([...this.databases].map(([database, uuid]) => ({ uuid, name: database }))));
			case "d1 create":
				this.databases.set(name, `0000${this.databases.size}-aaaa-4bbb-8ccc-dddddddddddd`);
				return ok(`✅ Successfully created DB '${name}'`);
			case "r2 bucket":
				if (name === "list") {
					return ok(
						`Listing buckets...\n${[...this.buckets].map((listed) => `name:           ${listed}\ncreation_date:  2026-12-01T00:00:00.000Z`).join("\n\n")}`,
					);
				}
				this.buckets.add(bucket);
				return ok(`Creating bucket '${bucket}'...\n✅ Created bucket '${bucket}'`);
			case "queues list":
				return ok(
					`┌────┬──────┐\n│ id │ name │\n├────┼──────┤\n${[...this.queues].map((queue) => `│ 1f${queue.length} │ ${queue} │`).join("\n")}\n└────┴──────┘`,
				);
			case "queues create":
				this.queues.add(name);
				return ok(`Creating queue '${name}'\nCreated queue '${name}'`);
			case "d1 migrations":
				return ok("✅ No migrations to apply!");
			case "secret list": {
				const secrets = this.workers.get(`eo-edge-${environment}`);
				if (!secrets) {
					return failed(
						`✘ [ERROR] Worker "eo-edge-${environment}" (env: ${environment}) not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.`,
					);
				}
				return ok(JSON.stringify([...secrets.keys()].map((secret) => ({ name: secret, type: "secret_text" }))));
			}
			case `deploy --env`: {
				const worker = `eo-edge-${environment}`;
				const secrets = this.workers.get(worker) ?? new Map<string, string>();
				const file = args.indexOf("--secrets-file");
				if (file !== -1) {
					for (const [secret, value] of Object.entries(JSON.parse(readFileSync(args[file + 1] ?? "", "utf8")))) {
						secrets.set(secret, value as string);
					}
				}
				this.workers.set(worker, secrets);
				return ok(
					`Uploaded ${worker} (3.10 sec)\nDeployed ${worker} triggers (1.02 sec)\n  https://${worker}.acme.workers.dev\n  schedule: */5 * * * *\nCurrent Version ID: 6a1b2c3d`,
				);
			}
			default:
				throw new Error(`the fake account does not know ${command}`);
		}
	}
}

let directory: string;
let configPath: string;
let account: FakeAccount;
let output: string[];
let errors: string[];
let fetched: string[];
let health: () => Response;

beforeEach(() => {
	directory = mkdtempSync(join(tmpdir(), "eo-edge-deploy-test-"));
	configPath = join(directory, "wrangler.toml");
	copyFileSync("wrangler.toml", configPath);
	account = new FakeAccount();
	output = [];
	errors = [];
	fetched = [];
	health = () => Response.json({ status: "ok", version: "1.1.0" });
});
afterEach(() => rmSync(directory, { recursive: true, force: true }));

function run(overrides: Partial<DeployOptions> = {}): Promise<number> {
	return deploy({
		environment: "staging",
		dryRun: false,
		configPath,
		runner: account.runner(),
		fetch: (async (url: string) => {
			fetched.push(String(url));
			return health();
		}) as unknown as typeof fetch,
		variables: { CLOUDFLARE_API_TOKEN: "token", CLOUDFLARE_ACCOUNT_ID: "account" },
		log: (line) => output.push(line),
		error: (line) => errors.push(line),
		healthAttempts: 2,
		healthRetryDelayMs: 0,
		...overrides,
	});
}

const stagingQueues = [
	"eo-edge-ingest-staging",
	"eo-edge-validate-staging",
	"eo-edge-compute-staging",
	"eo-edge-histogram-staging",
	"eo-edge-store-staging",
	"eo-edge-publish-staging",
	"eo-edge-webhooks-staging",
];
/** Steps of a deploy: the build, the database, the bucket, each queue, the dead-letter queue, then five. */
const STEPS = 3 + stagingQueues.length + 1 + 5;

function stagingDatabaseId(): string | undefined {
	return parseWranglerConfig(readFileSync(configPath, "utf8")).env?.staging?.d1_databases?.[0]?.database_id;
}

describe("npm run deploy -- --dry-run", () => {
	it("prints every step in order, conditional ones as 'unless it exists', and calls nothing", async () => {
		const nothing: Runner = {
			wrangler: () => Promise.reject(new Error("dry run called wrangler")),
			npm: () => Promise.reject(new Error("dry run called npm")),
		};
		const code = await run({ dryRun: true, runner: nothing, variables: {} });
		expect(code, errors.join("\n")).toBe(0);
		expect(fetched).toEqual([]);
		const steps = output.filter((line) => /^\[\d+\/\d+\]/.test(line)).map((line) => line.replace(/^\[\d+\/\d+\] /, ""));
		expect(steps).toEqual([
			"build the Wasm modules and the docs page's script",
			"create D1 database eo-edge-staging unless it exists",
			"create R2 bucket eo-edge-staging unless it exists",
			...stagingQueues.map((queue) => `create queue ${queue} unless it exists`),
			"create dead-letter queue eo-edge-dlq-staging unless it exists",
			`write the environment sections of ${configPath} from its top level, with the database ids`,
			"apply the D1 migrations eo-edge-staging has not had yet",
			"generate WEBHOOK_SECRETS_KEY unless Worker eo-edge-staging has it (random, never printed)",
			"deploy Worker eo-edge-staging, with the secrets generated above",
			`check that GET <the workers.dev URL wrangler deploy prints>/v1/health answers 200 "ok"`,
		]);
		const text = output.join("\n");
		expect(text).toContain("wrangler d1 create eo-edge-staging  (if missing)");
		expect(text).toContain("wrangler d1 migrations apply DB --remote --env staging");
		expect(text).toContain("wrangler deploy --env staging");
		expect(readFileSync(configPath, "utf8")).toBe(readFileSync("wrangler.toml", "utf8"));
	});

	it("names the environment's queues from wrangler.toml, so a queue added there is created too", async () => {
		const config = readFileSync(configPath, "utf8");
		const marker = config.indexOf("# ---- Deployed environments");
		const withQueue = `${config.slice(0, marker)}[[queues.producers]]\nbinding = "SPARE_QUEUE"\nqueue = "eo-edge-spare"\n\n${config.slice(marker)}`;
		writeFileSync(configPath, withQueue);
		await run({ dryRun: true, environment: "production" });
		expect(output.join("\n")).toContain("create queue eo-edge-spare-production unless it exists");
	});
});

describe("npm run deploy against an account", () => {
	it("refuses to start without CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID, before any step", async () => {
		const code = await run({ variables: { CLOUDFLARE_ACCOUNT_ID: "account" } });
		expect(code).not.toBe(0);
		expect(errors.join("\n")).toContain("CLOUDFLARE_API_TOKEN must be set");
		expect(account.commands).toEqual([]);
		expect(output).toEqual([]);
	});

	it("refuses an environment wrangler.toml does not have", async () => {
		expect(await run({ environment: "preview" })).not.toBe(0);
		expect(errors.join("\n")).toContain("--env must be one of staging, production, not preview");
		expect(account.commands).toEqual([]);
	});

	it("creates everything on a fresh account, writes the database id, sets the secret once and checks health", async () => {
		const code = await run();
		expect(code, errors.join("\n")).toBe(0);
		expect([...account.databases.keys()]).toEqual(["eo-edge-staging"]);
		expect([...account.buckets]).toEqual(["eo-edge-staging"]);
		expect([...account.queues].sort()).toEqual([...stagingQueues, "eo-edge-dlq-staging"].sort());
		expect(stagingDatabaseId()).toBe(account.databases.get("eo-edge-staging"));
		expect(findEnvironmentProblems(readFileSync(configPath, "utf8"))).toEqual([]);

		const secret = account.workers.get("eo-edge-staging")?.get("WEBHOOK_SECRETS_KEY") ?? "";
		expect(Buffer.from(secret, "base64")).toHaveLength(32);
		expect([...output, ...errors].join("\n")).not.toContain(secret);
		const deployCommand = account.commands.find((command) => command.startsWith("wrangler deploy")) ?? "";
		const secretsFile = deployCommand.split(" ").at(-1) ?? "";
		expect(deployCommand).toContain("--secrets-file");
		expect(existsSync(secretsFile)).toBe(false);

		expect(account.commands.filter((command) => !/ list/.test(command))).toEqual([
			"npm run build:wasm",
			"npm run build:docs",
			"wrangler d1 create eo-edge-staging",
			"wrangler r2 bucket create eo-edge-staging",
			...[...stagingQueues, "eo-edge-dlq-staging"].map((queue) => `wrangler queues create ${queue}`),
			"wrangler d1 migrations apply DB --remote --env staging",
			deployCommand,
		]);
		expect(fetched).toEqual(["https://eo-edge-staging.acme.workers.dev/v1/health"]);
		expect(output.at(-1)).toBe("staging is deployed and healthy.");
	});

	it("reuses everything on a second run: only migrations and the deploy, the secret kept", async () => {
		expect(await run()).toBe(0);
		const id = stagingDatabaseId();
		const secret = account.workers.get("eo-edge-staging")?.get("WEBHOOK_SECRETS_KEY");
		const configAfterFirst = readFileSync(configPath, "utf8");
		account.commands = [];

		expect(await run(), errors.join("\n")).toBe(0);
		expect(account.commands.filter((command) => !/ list/.test(command))).toEqual([
			"npm run build:wasm",
			"npm run build:docs",
			"wrangler d1 migrations apply DB --remote --env staging",
			"wrangler deploy --env staging",
		]);
		expect(account.workers.get("eo-edge-staging")?.get("WEBHOOK_SECRETS_KEY")).toBe(secret);
		expect(stagingDatabaseId()).toBe(id);
		expect(readFileSync(configPath, "utf8")).toBe(configAfterFirst);
		expect(output.join("\n")).toContain(
			"WEBHOOK_SECRETS_KEY unless Worker eo-edge-staging has it (random, never printed): all set, kept",
		);
	});

	it("gives a second environment resources of its own and keeps the first one's ids", async () => {
		expect(await run()).toBe(0);
		const stagingId = stagingDatabaseId();
		expect(await run({ environment: "production" })).toBe(0);
		expect([...account.databases.keys()]).toEqual(["eo-edge-staging", "eo-edge-production"]);
		expect(account.queues).toContain("eo-edge-dlq-production");
		const config = parseWranglerConfig(readFileSync(configPath, "utf8"));
		expect(config.env?.staging?.d1_databases?.[0]?.database_id).toBe(stagingId);
		expect(config.env?.production?.d1_databases?.[0]?.database_id).toBe(account.databases.get("eo-edge-production"));
		expect(fetched.at(-1)).toBe("https://eo-edge-production.acme.workers.dev/v1/health");
	});

	it("stops with a clear message when a step fails, and a second run finishes without making anything twice", async () => {
		account.failing = "wrangler queues create eo-edge-compute-staging";
		expect(await run()).toBe(1);
		expect(errors[0]).toBe(`[6/${STEPS}] create queue eo-edge-compute-staging unless it exists: FAILED`);
		expect(errors.join("\n")).toContain("Authentication error");
		expect(errors.at(-1)).toContain("run `npm run deploy -- --env staging` again");
		expect(account.commands.some((command) => command.startsWith("wrangler deploy"))).toBe(false);
		expect(stagingDatabaseId()).toBeUndefined();

		account.failing = null;
		errors = [];
		expect(await run(), errors.join("\n")).toBe(0);
		for (const name of ["wrangler d1 create eo-edge-staging", "wrangler queues create eo-edge-ingest-staging"]) {
			expect(account.commands.filter((command) => command === name)).toHaveLength(1);
		}
		expect(account.queues).toContain("eo-edge-compute-staging");
		expect(stagingDatabaseId()).toBe(account.databases.get("eo-edge-staging"));
	});

	it("never takes a failing secret listing for a Worker without secrets", async () => {
		expect(await run()).toBe(0);
		const secret = account.workers.get("eo-edge-staging")?.get("WEBHOOK_SECRETS_KEY");
		account.failing = "wrangler secret list";
		account.commands = [];
		expect(await run()).toBe(1);
		expect(errors[0]).toBe(
			`[${STEPS - 2}/${STEPS}] generate WEBHOOK_SECRETS_KEY unless Worker eo-edge-staging has it (random, never printed): FAILED`,
		);
		expect(account.commands.some((command) => command.startsWith("wrangler deploy"))).toBe(false);
		expect(account.workers.get("eo-edge-staging")?.get("WEBHOOK_SECRETS_KEY")).toBe(secret);
	});

	it("fails when the deployed Worker is not healthy", async () => {
		health = () => new Response("worker threw", { status: 503 });
		expect(await run()).toBe(1);
		expect(fetched).toHaveLength(2);
		expect(errors.join("\n")).toContain(
			"GET https://eo-edge-staging.acme.workers.dev/v1/health answered 503: worker threw, after 2 attempts: the deployment is not healthy",
		);
	});

	it("checks health at --url when one is given", async () => {
		expect(await run({ url: "https://eo.example.com/" })).toBe(0);
		expect(fetched).toEqual(["https://eo.example.com/v1/health"]);
	});
});

describe("wrangler.toml's environments", () => {
	const text = readFileSync("wrangler.toml", "utf8");
	const config = parseWranglerConfig(text);

	it("repeat every top-level var and binding, under names of their own", () => {
		expect(findEnvironmentProblems(text, "wrangler.toml", readEnvironmentVars())).toEqual([]);
		// Names are unique per kind: a D1 database and an R2 bucket may share one.
		const named = (section: EnvironmentSection) => {
			const resources = environmentResources(section);
			return [
				...resources.databases.map((name) => `D1 ${name}`),
				...resources.buckets.map((name) => `R2 ${name}`),
				...[...resources.queues, ...resources.deadLetterQueues].map((name) => `queue ${name}`),
			];
		};
		const seen = new Set(named(environmentSection(config, "")));
		for (const environment of environmentNames) {
			const section = config.env?.[environment] ?? {};
			expect(Object.keys(section.vars ?? {}).sort()).toEqual(Object.keys(config.vars ?? {}).sort());
			expect(section.vars?.ENVIRONMENT).toBe(environment);
			const bindings = (from: typeof section) => [
				...(from.d1_databases ?? []).map((binding) => binding.binding),
				...(from.r2_buckets ?? []).map((binding) => binding.binding),
				...(from.queues?.producers ?? []).map((binding) => binding.binding),
			];
			expect(bindings(section)).toEqual(bindings(config));
			for (const name of named(section)) {
				expect(seen.has(name), `${name} is shared`).toBe(false);
				expect(topLevelResourceName(name, environment)).not.toBe(name);
				seen.add(name);
			}
		}
	});

	it("are reported when the top level gains a var or queue they lack", () => {
		const marker = text.indexOf("# ---- Deployed environments");
		const drifted = `${text.slice(0, marker).replace("[vars]\n", "[vars]\nNEW_LIMIT = 1\n")}[[queues.producers]]\nbinding = "SPARE_QUEUE"\nqueue = "eo-edge-spare"\n\n${text.slice(marker)}`;
		const problems = findEnvironmentProblems(drifted);
		expect(problems).toContain("[env.staging] lacks vars NEW_LIMIT; run `npm run deploy -- --sync-config`");
		expect(problems).toContain(
			`[env.production] queues differ from the top level's under "-production" names; run \`npm run deploy -- --sync-config\``,
		);
	});

	it("follow a var changed at the top level, and take an environment's own values from deploy/environments.toml", () => {
		const marker = text.indexOf("# ---- Deployed environments");
		const changed = text.slice(0, marker).replace(/^STRIP_BUDGET_BYTES = \d+$/m, "STRIP_BUDGET_BYTES = 1048576");
		const stale = `${changed}${text.slice(marker)}`;
		expect(findEnvironmentProblems(stale)).toContain(
			"[env.staging] vars STRIP_BUDGET_BYTES differ from the top level's and deploy/environments.toml's; run `npm run deploy -- --sync-config`",
		);
		const own = { production: { PUBLIC_BASE_URL: "https://eo.example.com" } };
		const synced = withEnvironmentSections(stale, {}, own);
		expect(findEnvironmentProblems(synced, "wrangler.toml", own)).toEqual([]);
		const environments = parseWranglerConfig(synced).env;
		expect(environments?.staging?.vars).toMatchObject({ STRIP_BUDGET_BYTES: 1048576, PUBLIC_BASE_URL: "" });
		expect(environments?.production?.vars).toMatchObject({
			STRIP_BUDGET_BYTES: 1048576,
			PUBLIC_BASE_URL: "https://eo.example.com",
		});
		// An own value for a var the top level lacks, or for no environment, is a mistake to report.
		expect(findEnvironmentProblems(synced, "wrangler.toml", { ...own, qa: { NO_SUCH_VAR: 1 } })).toEqual([
			"deploy/environments.toml: [qa] is no environment (staging, production)",
			"deploy/environments.toml: [qa] sets vars the top level lacks: NO_SUCH_VAR",
		]);
	});

	it("name resources by a rule the queue dispatcher reverses", () => {
		expect(environmentResourceName("eo-edge-dlq", "staging")).toBe("eo-edge-dlq-staging");
		expect(topLevelResourceName("eo-edge-dlq-staging", "staging")).toBe("eo-edge-dlq");
		expect(topLevelResourceName("eo-edge-dlq", "")).toBe("eo-edge-dlq");
		expect(topLevelResourceName("eo-edge-dlq-staging", "production")).toBe("eo-edge-dlq-staging");
	});
});

describe("docs/deploy.md", () => {
	const page = readFileSync("docs/deploy.md", "utf8");
	const config = parseWranglerConfig(readFileSync("wrangler.toml", "utf8"));

	it("explains every var, binding and secret the Worker has", () => {
		const names = [
			...Object.keys(config.vars ?? {}),
			...(config.d1_databases ?? []).map((binding) => binding.binding),
			...(config.r2_buckets ?? []).map((binding) => binding.binding),
			...(config.queues?.producers ?? []).map((binding) => binding.binding),
			...workerSecrets.map((secret) => secret.name),
		];
		const unexplained = names.filter((name) => !new RegExp(`^\\| \`${name}\` +\\|`, "m").test(page));
		expect(unexplained).toEqual([]);
	});
});
