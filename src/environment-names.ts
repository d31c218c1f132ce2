/**
 * How a deployed environment names its resources. Every D1 database, R2 bucket and queue of
 * wrangler.toml's top level (local development) gets "-<environment>" appended in the
 * `[env.<environment>]` section, as wrangler appends it to the Worker's own name:
 * eo-edge-ingest becomes eo-edge-ingest-staging. scripts/deploy.ts writes the sections by this
 * rule; the queue dispatcher reverses it to find a delivered batch's stage, whose registry
 * (src/pipeline/stages.ts) holds the top-level names. No imports, so scripts can use it.
 */

/** The name `name` takes in `environment`; "" is local development, where names stay as they are. */
export function environmentResourceName(name: string, environment: string): string {
	return environment === "" ? name : `${name}-${environment}`;
}

/** The top-level name of a resource that `environment` calls `name`. */
export function topLevelResourceName(name: string, environment: string): string {
	const suffix = `-${environment}`;
	return environment !== "" && name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}
