/**
 * `npm run keys -- <command>`: manage tenants and API keys in D1, with the same statements the
 * worker uses (src/db/access.ts).
 *
 *   create --tenant <name> [--scopes "jobs:read jobs:write uploads:write"] [--label <text>]
 *          (scopes default to every scope but ops:read; an operator's key: --scopes ops:read)
 *          [--max-concurrent-jobs N] [--max-pixels-per-job N] [--max-upload-bytes-per-day N]
 *          [--max-requests-per-minute N] [--max-field-sets N]
 *          [--max-field-vertices N]           creates the tenant if needed and prints a new key once
 *   revoke <key id>                           revokes a key
 *   list [--tenant <name>]                    lists keys (prefixes only; keys are never stored)
 *   seed-dev                                  the documented development key, local database only
 *
 * The local database (the one `npm run dev` uses; `--persist-to <dir>` as for wrangler) by
 * default; `--remote --env <staging|production>` (always together) talks to that environment's deployed D1 over
 * Cloudflare's API (its database_id, which `npm run deploy` wrote in wrangler.toml), with
 * CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN set.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getPlatformProxy } from "wrangler";
import {
	DEVELOPMENT_API_KEY,
	DEVELOPMENT_TENANT,
	hashApiKey,
	keyPrefix,
	newApiKey,
	parseScopes,
	type Scope,
	tenantScopes,
} from "../src/access/api-keys";
import { defaultQuotas } from "../src/access/quotas";
import {
	ensureTenant,
	insertApiKey,
	listApiKeys,
	revokeApiKey,
	setApiKeyScopes,
	type TenantQuotas,
} from "../src/db/access";
import { randomHex } from "../src/ids";
import { parseWranglerConfig } from "./deploy-config";
import { remoteD1 } from "./remote-d1";

const { positionals, values } = parseArgs({
	allowPositionals: true,
	options: {
		tenant: { type: "string" },
		scopes: { type: "string", default: tenantScopes.join(" ") },
		label: { type: "string" },
		remote: { type: "boolean", default: false },
		env: { type: "string" },
		"persist-to": { type: "string" },
		"max-concurrent-jobs": { type: "string" },
		"max-pixels-per-job": { type: "string" },
		"max-upload-bytes-per-day": { type: "string" },
		"max-requests-per-minute": { type: "string" },
		"max-field-sets": { type: "string" },
		"max-field-vertices": { type: "string" },
	},
});
const [command, argument] = positionals;

function quotaOption(name: keyof typeof values, fallback: number): number {
	const value = values[name];
	if (value === undefined) return fallback;
	const parsed = Number(value);
	if (!Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
	return parsed;
}

function quotas(): TenantQuotas {
	return {
		maxConcurrentJobs: quotaOption("max-concurrent-jobs", defaultQuotas.maxConcurrentJobs),
		maxPixelsPerJob: quotaOption("max-pixels-per-job", defaultQuotas.maxPixelsPerJob),
		maxUploadBytesPerDay: quotaOption("max-upload-bytes-per-day", defaultQuotas.maxUploadBytesPerDay),
		maxRequestsPerMinute: quotaOption("max-requests-per-minute", defaultQuotas.maxRequestsPerMinute),
		maxFieldSets: quotaOption("max-field-sets", defaultQuotas.maxFieldSets),
		maxFieldVertices: quotaOption("max-field-vertices", defaultQuotas.maxFieldVertices),
	};
}

async function storeKey(db: D1Database, tenantName: string, key: string, keyScopes: Scope[], label: string | null) {
	const now = new Date().toISOString();
	const tenant = await ensureTenant(db, {
		id: `ten_${randomHex(12)}`,
		name: tenantName,
		quotas: quotas(),
		createdAt: now,
	});
	const id = `key_${randomHex(12)}`;
	await insertApiKey(db, {
		id,
		tenantId: tenant.id,
		hash: await hashApiKey(key),
		prefix: keyPrefix(key),
		scopes: keyScopes,
		label,
		createdAt: now,
	});
	return { id, tenant };
}

async function run(db: D1Database): Promise<void> {
	switch (command) {
		case "create": {
			if (!values.tenant) throw new Error("create needs --tenant <name>");
			const key = newApiKey();
			const { id, tenant } = await storeKey(db, values.tenant, key, parseScopes(values.scopes), values.label ?? null);
			console.log(`key ${id} for tenant ${tenant.name} (${tenant.id}), scopes: ${values.scopes}`);
			console.log("This is the only time the key is shown; store it now:");
			console.log(key);
			return;
		}
		case "revoke": {
			if (!argument) throw new Error("revoke needs the key id (key_…), see `list`");
			const revoked = await revokeApiKey(db, argument, new Date().toISOString());
			console.log(revoked ? `revoked ${argument}` : `${argument} is not a live key; nothing changed`);
			if (!revoked) process.exitCode = 1;
			return;
		}
		case "list": {
			for (const key of await listApiKeys(db, values.tenant ?? null)) {
				const state = key.revokedAt ? `revoked ${key.revokedAt}` : "live";
				console.log(
					`${key.id}  ${key.prefix}…  ${key.tenantName}  [${key.scopes.join(" ")}]  ${state}  ${key.label ?? ""}`,
				);
			}
			return;
		}
		case "seed-dev": {
			await storeKey(db, DEVELOPMENT_TENANT, DEVELOPMENT_API_KEY, [...tenantScopes], "development (README)");
			// A database seeded before a scope was added keeps its key: give it every tenant scope there is now.
			await setApiKeyScopes(db, await hashApiKey(DEVELOPMENT_API_KEY), [...tenantScopes]);
			console.log(`development key ready in the local database: ${DEVELOPMENT_API_KEY}`);
			return;
		}
		default:
			throw new Error("usage: npm run keys -- create|revoke|list|seed-dev [options] (see scripts/keys.ts)");
	}
}

try {
	if (values.remote && command === "seed-dev") {
		throw new Error("the development key is public: it is never put in a deployed database");
	}
	if (values.remote !== (values.env !== undefined)) {
		throw new Error(
			"--remote and --env <staging|production> go together: the top level of wrangler.toml is local development",
		);
	}
	if (values.remote) {
		const config = parseWranglerConfig(readFileSync("wrangler.toml", "utf8"));
		const database = config.env?.[values.env ?? ""]?.d1_databases?.find((binding) => binding.binding === "DB");
		if (!database?.database_id) {
			throw new Error(
				`wrangler.toml has no database_id for DB in [env.${values.env}] yet: run \`npm run deploy -- --env ${values.env}\` first`,
			);
		}
		await run(remoteD1(database.database_id, process.env));
	} else {
		const persistTo = values["persist-to"];
		const proxy = await getPlatformProxy<Env>({
			configPath: "wrangler.toml",
			remoteBindings: false,
			// wrangler keeps its local state under <persist-to>/v3.
			persist: persistTo ? { path: join(persistTo, "v3") } : true,
		});
		try {
			await run(proxy.env.DB);
		} finally {
			await proxy.dispose();
		}
	}
} catch (error) {
	console.error(error instanceof Error ? error.message : String(error));
	process.exitCode = 1;
}
