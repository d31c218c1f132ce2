/**
 * The WEBHOOK_SECRETS_KEY of local development and the tests: `npm run dev` passes it with --var
 * (package.json), vitest.config.ts binds it. It is public, like the development API key: a
 * deployed worker gets its own with `wrangler secret put WEBHOOK_SECRETS_KEY`. No imports, so the
 * Node-side configs can read it.
 */
export const DEVELOPMENT_WEBHOOK_SECRETS_KEY = "ZW8tZWRnZS1sb2NhbC1kZXZlbG9wbWVudC1vbmx5ISE=";
