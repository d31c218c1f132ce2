/**
 * The deployed environments' sections of wrangler.toml, derived from its top level.
 *
 * Wrangler does not let an environment inherit vars or bindings (D1, R2, queues), so each
 * `[env.<name>]` repeats them. Here they are written from the top level by one rule
 * (src/environment-names.ts: every resource name gets "-<environment>"), so an environment can
 * never lack a binding or a var the top level has; `npm run check:stages` holds the file to it.
 * What an environment has of its own: the D1 database ids the deploy found, the var values
 * deploy/environments.toml gives it (PUBLIC_BASE_URL, say), and settings an operator added to its
 * section (routes).
 */
import { existsSync, readFileSync } from "node:fs";
import { parse, stringify } from "smol-toml";
import { environmentResourceName } from "../src/environment-names";

export const environmentNames = ["staging", "production"] as const;
export type EnvironmentName = (typeof environmentNames)[number];

interface D1Binding {
	binding: string;
	database_name: string;
	database_id?: string;
	migrations_dir?: string;
}
interface R2Binding {
	binding: string;
	bucket_name: string;
}
interface QueueProducer {
	binding: string;
	queue: string;
}
interface QueueConsumer {
	queue: string;
	dead_letter_queue?: string;
	[setting: string]: unknown;
}

/** An environment's section: the non-inheritable part EO Edge uses, and whatever an operator adds (routes, say). */
export interface EnvironmentSection {
	[setting: string]: unknown;
	vars?: Record<string, unknown>;
	d1_databases?: D1Binding[];
	r2_buckets?: R2Binding[];
	queues?: { producers?: QueueProducer[]; consumers?: QueueConsumer[] };
}

export interface WranglerConfig extends EnvironmentSection {
	name: string;
	env?: Record<string, EnvironmentSection>;
}

/**
 * Top-level keys wrangler does not let environments inherit. Any of them at the top level
 * without a rule below is a problem (findEnvironmentProblems), so a new kind of binding cannot
 * be left out of the environments silently.
 */
const nonInheritableKeys = [
	"vars",
	"d1_databases",
	"r2_buckets",
	"queues",
	"kv_namespaces",
	"durable_objects",
	"services",
	"analytics_engine_datasets",
	"ai",
	"vectorize",
	"hyperdrive",
	"workflows",
	"secrets_store_secrets",
	"ratelimits",
	"browser",
	"images",
	"send_email",
	"define",
] as const;
const derivedKeys = new Set<string>(["vars", "d1_databases", "r2_buckets", "queues"]);

/** Where an environment's own var values are kept, since wrangler.toml's sections are rewritten. */
export const environmentVarsPath = "deploy/environments.toml";

/** Where everything wrangler.toml says about deployed environments starts; the deploy rewrites from here down. */
export const environmentsMarker = "# ---- Deployed environments: written by scripts/deploy.ts, see docs/deploy.md ----";

const environmentsHeader = `${environmentsMarker}
# Each environment repeats the top level's vars and bindings (wrangler does not let them be
# inherited), with every resource name suffixed "-<environment>" (src/environment-names.ts).
# Change the top level (or an environment's own vars in ${environmentVarsPath}), then
# \`npm run deploy -- --sync-config\`. Kept when rewritten: the database_id values the deploy
# found, and settings added here (routes, workers_dev).
`;

/** Each environment's own var values, by environment name. */
export type EnvironmentVars = Partial<Record<string, Record<string, unknown>>>;

export function readEnvironmentVars(path = environmentVarsPath): EnvironmentVars {
	return existsSync(path) ? (parse(readFileSync(path, "utf8")) as EnvironmentVars) : {};
}

export function parseWranglerConfig(text: string): WranglerConfig {
	return parse(text) as unknown as WranglerConfig;
}

/**
 * An environment's section: the top level's vars (with the environment's own values in their
 * place) and bindings under the environment's names, beside what the existing section adds of its
 * own (a `routes` entry, say).
 */
export function environmentSection(
	topLevel: WranglerConfig,
	environment: string,
	existing: EnvironmentSection = {},
	databaseIds: Record<string, string> = {},
	ownVars: Record<string, unknown> = {},
): EnvironmentSection {
	const rename = (name: string) => environmentResourceName(name, environment);
	const section: EnvironmentSection = Object.fromEntries(
		Object.entries(existing).filter(([key]) => !derivedKeys.has(key)),
	);
	if (topLevel.vars) {
		const vars: Record<string, unknown> = {};
		for (const [name, value] of Object.entries(topLevel.vars)) vars[name] = ownVars[name] ?? value;
		vars.ENVIRONMENT = environment;
		section.vars = vars;
	}
	if (topLevel.d1_databases) {
		section.d1_databases = topLevel.d1_databases.map((database) => {
			const name = rename(database.database_name);
			const id =
				databaseIds[name] ?? existing.d1_databases?.find((candidate) => candidate.database_name === name)?.database_id;
			const { database_id: _topLevelId, ...rest } = database;
			return { ...rest, database_name: name, ...(id ? { database_id: id } : {}) };
		});
	}
	if (topLevel.r2_buckets) {
		section.r2_buckets = topLevel.r2_buckets.map((bucket) => ({ ...bucket, bucket_name: rename(bucket.bucket_name) }));
	}
	if (topLevel.queues) {
		section.queues = {
			producers: topLevel.queues.producers?.map((producer) => ({ ...producer, queue: rename(producer.queue) })),
			consumers: topLevel.queues.consumers?.map((consumer) => ({
				...consumer,
				queue: rename(consumer.queue),
				...(consumer.dead_letter_queue ? { dead_letter_queue: rename(consumer.dead_letter_queue) } : {}),
			})),
		};
	}
	return section;
}

/** The resources an environment's section names, in the order the deploy makes them. */
export function environmentResources(section: EnvironmentSection): {
	databases: string[];
	buckets: string[];
	queues: string[];
	deadLetterQueues: string[];
} {
	const deadLetterQueues = unique(
		(section.queues?.consumers ?? []).flatMap((consumer) =>
			consumer.dead_letter_queue ? [consumer.dead_letter_queue] : [],
		),
	);
	const queues = unique([
		...(section.queues?.producers ?? []).map((producer) => producer.queue),
		...(section.queues?.consumers ?? []).map((consumer) => consumer.queue),
	]).filter((queue) => !deadLetterQueues.includes(queue));
	return {
		databases: (section.d1_databases ?? []).map((database) => database.database_name),
		buckets: (section.r2_buckets ?? []).map((bucket) => bucket.bucket_name),
		queues,
		deadLetterQueues,
	};
}

function unique(names: string[]): string[] {
	return [...new Set(names)];
}

/**
 * wrangler.toml with its environment sections rewritten from the top level: the text above the
 * marker (the top level, with its comments) is kept as it is.
 */
export function withEnvironmentSections(
	text: string,
	databaseIds: Record<string, string> = {},
	environmentVars: EnvironmentVars = {},
): string {
	const config = parseWranglerConfig(text);
	const env: Record<string, EnvironmentSection> = {};
	for (const environment of environmentNames) {
		env[environment] = environmentSection(
			config,
			environment,
			config.env?.[environment],
			databaseIds,
			environmentVars[environment],
		);
	}
	const markerAt = text.indexOf(environmentsMarker);
	const topLevel = (markerAt === -1 ? text : text.slice(0, markerAt)).trimEnd();
	return `${topLevel}\n\n${environmentsHeader}\n${stringify({ env })}\n`;
}

/** Every way wrangler.toml's environment sections differ from what the top level implies. */
export function findEnvironmentProblems(
	text: string,
	configPath = "wrangler.toml",
	environmentVars: EnvironmentVars = {},
): string[] {
	const config = parseWranglerConfig(text);
	const fix = "run `npm run deploy -- --sync-config`";
	const problems: string[] = [];
	for (const [environment, vars] of Object.entries(environmentVars)) {
		if (!(environmentNames as readonly string[]).includes(environment)) {
			problems.push(`${environmentVarsPath}: [${environment}] is no environment (${environmentNames.join(", ")})`);
		}
		const unknown = Object.keys(vars ?? {}).filter((name) => !(name in (config.vars ?? {})));
		if (unknown.length > 0) {
			problems.push(`${environmentVarsPath}: [${environment}] sets vars the top level lacks: ${unknown.join(", ")}`);
		}
	}
	for (const key of nonInheritableKeys) {
		if (key in config && !derivedKeys.has(key)) {
			problems.push(`${configPath}: top-level ${key} has no rule for environments in scripts/deploy-config.ts`);
		}
	}
	for (const environment of environmentNames) {
		const actual = config.env?.[environment];
		if (!actual) {
			problems.push(`${configPath}: [env.${environment}] is missing; ${fix}`);
			continue;
		}
		const missing = Object.keys(config.vars ?? {}).filter((name) => !(name in (actual.vars ?? {})));
		const extra = Object.keys(actual.vars ?? {}).filter((name) => !(name in (config.vars ?? {})));
		if (missing.length > 0) problems.push(`[env.${environment}] lacks vars ${missing.join(", ")}; ${fix}`);
		if (extra.length > 0) problems.push(`[env.${environment}] has vars the top level lacks: ${extra.join(", ")}`);
		if (actual.vars?.ENVIRONMENT !== environment) {
			problems.push(`[env.${environment}] must set ENVIRONMENT = "${environment}"`);
		}
		const expected = environmentSection(config, environment, actual, {}, environmentVars[environment]);
		const differing = Object.keys(expected.vars ?? {}).filter(
			(name) => name in (actual.vars ?? {}) && expected.vars?.[name] !== actual.vars?.[name],
		);
		if (differing.length > 0) {
			problems.push(
				`[env.${environment}] vars ${differing.join(", ")} differ from the top level's and ${environmentVarsPath}'s; ${fix}`,
			);
		}
		for (const key of ["d1_databases", "r2_buckets", "queues"] as const) {
			if (JSON.stringify(expected[key] ?? null) !== JSON.stringify(actual[key] ?? null)) {
				problems.push(`[env.${environment}] ${key} differ from the top level's under "-${environment}" names; ${fix}`);
			}
		}
	}
	return problems;
}
