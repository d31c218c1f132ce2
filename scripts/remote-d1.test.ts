import { describe, expect, it } from "vitest";
import { remoteD1 } from "./remote-d1";

const credentials = { CLOUDFLARE_ACCOUNT_ID: "acct", CLOUDFLARE_API_TOKEN: "token" };

describe("the remote D1 adapter of the keys CLI", () => {
	it("sends each statement with its bound parameters to the D1 query API", async () => {
		const calls: { url: string; init: RequestInit }[] = [];
		const fakeFetch = (async (url: string, init: RequestInit) => {
			calls.push({ url, init });
			return Response.json({ success: true, result: [{ results: [{ id: "key_1" }], meta: { changes: 1 } }] });
		}) as unknown as typeof fetch;
		const db = remoteD1("db-id", credentials, fakeFetch);
		const row = await db.prepare("SELECT id FROM api_keys WHERE id = ?").bind("key_1").first();
		const run = await db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind("now", "key_1").run();
		expect(row).toEqual({ id: "key_1" });
		expect(run.meta.changes).toBe(1);
		expect(calls[0]?.url).toBe("https://api.cloudflare.com/client/v4/accounts/acct/d1/database/db-id/query");
		expect(new Headers(calls[0]?.init.headers).get("authorization")).toBe("Bearer token");
		expect(JSON.parse(String(calls[1]?.init.body))).toEqual({
			sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?",
			params: ["now", "key_1"],
		});
	});

	it("raises the API's errors, and needs credentials", async () => {
		const failing = (async () =>
			Response.json(
				{ success: false, errors: [{ message: "no such table" }] },
				{ status: 400 },
			)) as unknown as typeof fetch;
		await expect(remoteD1("db-id", credentials, failing).prepare("SELECT 1").all()).rejects.toThrow("no such table");
		expect(() => remoteD1("db-id", {})).toThrow(/CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN/);
	});
});
