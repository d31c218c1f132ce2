import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { hashApiKey, keyPrefix, tenantScopes } from "../../src/access/api-keys";
import { ensureTenant, insertApiKey } from "../../src/db/access";
import { TEST_API_KEY, TEST_QUOTAS, TEST_TENANT, TEST_TENANT_ID } from "../tenants";

// Setup files may run more than once; migrations skip what is applied and the seed is idempotent.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
const now = new Date().toISOString();
const tenant = await ensureTenant(env.DB, {
	id: TEST_TENANT_ID,
	name: TEST_TENANT,
	quotas: TEST_QUOTAS,
	createdAt: now,
});
await insertApiKey(env.DB, {
	id: "key_test",
	tenantId: tenant.id,
	hash: await hashApiKey(TEST_API_KEY),
	prefix: keyPrefix(TEST_API_KEY),
	scopes: [...tenantScopes],
	label: "tests",
	createdAt: now,
});
