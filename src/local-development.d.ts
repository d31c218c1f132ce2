/**
 * Bindings that exist only in local development and so are never in wrangler.toml, which is
 * where `wrangler types` finds the others (worker-configuration.d.ts).
 */
interface LocalDevelopmentEnv {
	/**
	 * `npm run dev -- --var ALLOW_LOOPBACK_URLS:true` lets remote inputs and STAC URLs name
	 * http(s)://127.0.0.1:<port> or http(s)://localhost:<port> (src/raster/remote.ts). Absent,
	 * and so false, everywhere else; a test checks that wrangler.toml never sets it.
	 */
	ALLOW_LOOPBACK_URLS?: string | boolean;
}

/**
 * Worker secrets (`wrangler secret put`), which wrangler.toml does not list either. Optional: a
 * deployment without one answers a clear 503 where it is needed.
 */
interface WorkerSecretsEnv {
	/** Base64 of 32 bytes: the AES-GCM key webhook signing secrets are sealed under (src/webhooks/secrets.ts). */
	WEBHOOK_SECRETS_KEY?: string;
}

interface Env extends LocalDevelopmentEnv, WorkerSecretsEnv {}

declare namespace Cloudflare {
	interface Env extends LocalDevelopmentEnv, WorkerSecretsEnv {}
}
