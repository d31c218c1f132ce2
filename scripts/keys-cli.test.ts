/** The keys admin CLI against a scratch local D1 (wrangler's --persist-to), as an operator runs it. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const state = mkdtempSync(join(tmpdir(), "eo-edge-keys-"));

function keys(...args: string[]) {
	const run = spawnSync("npx", ["tsx", "scripts/keys.ts", ...args, "--persist-to", state], { encoding: "utf8" });
	return { status: run.status, out: run.stdout, err: run.stderr };
}

beforeAll(() => {
	const migrate = spawnSync("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
		encoding: "utf8",
		env: { ...process.env, CI: "true" },
	});
	expect(migrate.status, migrate.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(state, { recursive: true, force: true }));

describe("npm run keys", { timeout: 60_000 }, () => {
	it("creates a key shown once, lists it by prefix only, and revokes it", () => {
		const created = keys("create", "--tenant", "acme", "--scopes", "jobs:read jobs:write", "--label", "ci");
		expect(created.status, created.err).toBe(0);
		const key = created.out.trim().split("\n").at(-1) ?? "";
		expect(key).toMatch(/^eoe_[0-9a-f]{64}$/);
		const keyId = /key (key_[0-9a-f]{24}) for tenant acme/.exec(created.out)?.[1];
		expect(keyId).toBeDefined();

		const listed = keys("list", "--tenant", "acme");
		expect(listed.out).toContain(`${keyId}  ${key.slice(0, 12)}…  acme  [jobs:read jobs:write]  live  ci`);
		expect(listed.out).not.toContain(key);

		expect(keys("revoke", keyId ?? "").out).toContain(`revoked ${keyId}`);
		expect(keys("list", "--tenant", "acme").out).toMatch(new RegExp(`${keyId} .* revoked \\d{4}-`));
		const again = keys("revoke", keyId ?? "");
		expect(again.status).toBe(1);
		expect(again.out).toContain("not a live key");
	});

	it("gives a tenant's key every scope but ops:read, and an operator's key only when asked", () => {
		const tenant = keys("create", "--tenant", "farm");
		expect(tenant.status, tenant.err).toBe(0);
		expect(tenant.out).toContain(
			"scopes: jobs:read jobs:write uploads:write fields:read fields:write webhooks:read webhooks:write\n",
		);
		const operator = keys("create", "--tenant", "operations", "--scopes", "ops:read");
		expect(operator.status, operator.err).toBe(0);
		expect(keys("list", "--tenant", "operations").out).toMatch(/ {2}operations {2}\[ops:read\] {2}live/);
	});

	it("refuses unknown scopes, and never puts the development key in a deployed database", () => {
		const badScope = keys("create", "--tenant", "acme", "--scopes", "jobs:admin");
		expect(badScope.status).toBe(1);
		expect(badScope.err).toContain("unknown scope(s) jobs:admin");
		const remoteDev = keys("seed-dev", "--remote");
		expect(remoteDev.status).toBe(1);
		expect(remoteDev.err).toContain("never put in a deployed database");
	});

	it("reaches a deployed database with --remote and --env together, once the deploy has written its id", () => {
		const topLevel = keys("list", "--remote");
		expect(topLevel.status).toBe(1);
		expect(topLevel.err).toContain("--remote and --env <staging|production> go together");
		const notDeployed = keys("list", "--remote", "--env", "staging");
		expect(notDeployed.status).toBe(1);
		expect(notDeployed.err).toContain("run `npm run deploy -- --env staging` first");
	});
});
