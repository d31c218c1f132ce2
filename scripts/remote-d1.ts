/**
 * The deployed D1 database through Cloudflare's HTTP API, shaped like the D1Database binding
 * as far as src/db/access.ts uses it (prepare, bind, run, first, all), so the admin CLI runs
 * the worker's own parameterised statements against it.
 */
const API = "https://api.cloudflare.com/client/v4";

interface QueryResult {
	results: Record<string, unknown>[];
	meta: { changes: number };
}

export function remoteD1(
	databaseId: string,
	environment: Record<string, string | undefined>,
	fetchImpl: typeof fetch = fetch,
): D1Database {
	const accountId = environment.CLOUDFLARE_ACCOUNT_ID;
	const token = environment.CLOUDFLARE_API_TOKEN;
	if (!accountId || !token) throw new Error("--remote needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN");

	async function query(sql: string, params: unknown[]): Promise<QueryResult> {
		const response = await fetchImpl(`${API}/accounts/${accountId}/d1/database/${databaseId}/query`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
			body: JSON.stringify({ sql, params }),
		});
		const answer = (await response.json()) as {
			success: boolean;
			errors?: { message: string }[];
			result?: { results: Record<string, unknown>[]; meta: { changes: number } }[];
		};
		const first = answer.result?.[0];
		if (!response.ok || !answer.success || !first) {
			throw new Error(
				`D1 API: ${answer.errors?.map((error) => error.message).join("; ") || `HTTP ${response.status}`}`,
			);
		}
		return first;
	}

	function statement(sql: string, params: unknown[]) {
		return {
			bind: (...values: unknown[]) => statement(sql, values),
			run: () => query(sql, params),
			all: () => query(sql, params),
			first: async () => (await query(sql, params)).results[0] ?? null,
		};
	}

	return { prepare: (sql: string) => statement(sql, []) } as unknown as D1Database;
}
