/**
 * The tenant every test acts as unless it says otherwise (seeded by test/setup), and a way to
 * make more tenants and keys for the access tests.
 */
import { env } from "cloudflare:workers";
import { hashApiKey, keyPrefix, newApiKey, type Scope, tenantScopes } from "../src/access/api-keys";
import { ensureTenant, insertApiKey, type TenantQuotas } from "../src/db/access";
import { randomHex } from "../src/ids";

export const TEST_TENANT = "test";
export const TEST_TENANT_ID = "ten_test";
export const TEST_API_KEY = "eoe_test_0123456789abcdef0123456789abcdef";
/** Generous, so that only the tests about quotas meet them. */
export const TEST_QUOTAS: TenantQuotas = {
	maxConcurrentJobs: 1000,
	maxPixelsPerJob: 1e12,
	maxUploadBytesPerDay: 1e12,
	maxRequestsPerMinute: 1e9,
	maxFieldSets: 1e9,
	maxFieldVertices: 1e12,
};

/** A new tenant with one key; returns the key. */
export async function createTenantKey(
	options: { quotas?: Partial<TenantQuotas>; scopes?: Scope[]; tenant?: string } = {},
): Promise<{ key: string; keyId: string; tenantId: string }> {
	const now = new Date().toISOString();
	const tenant = await ensureTenant(env.DB, {
		id: `ten_${randomHex(12)}`,
		name: options.tenant ?? `tenant-${randomHex(6)}`,
		quotas: { ...TEST_QUOTAS, ...options.quotas },
		createdAt: now,
	});
	const key = newApiKey();
	const keyId = `key_${randomHex(12)}`;
	await insertApiKey(env.DB, {
		id: keyId,
		tenantId: tenant.id,
		hash: await hashApiKey(key),
		prefix: keyPrefix(key),
		scopes: options.scopes ?? [...tenantScopes],
		label: null,
		createdAt: now,
	});
	return { key, keyId, tenantId: tenant.id };
}
