/**
 * GET /: where to start, outside the versioned contract. A browser is sent to the API
 * reference; any other client gets the addresses of the reference, the OpenAPI document and
 * the health check, also as RFC 8631 `Link` relations.
 */
import type { Context } from "hono";
import { accepts } from "hono/accepts";
import type { App, AppEnv } from "../context";
import { DOCS_PATH, OPENAPI_PATH } from "./v1/docs";

export function registerRoot(app: App, version: string): void {
	app.get("/", function describeService(c: Context<AppEnv>) {
		c.header("Link", `<${OPENAPI_PATH}>; rel="service-desc", <${DOCS_PATH}>; rel="service-doc"`);
		c.header("Vary", "Accept");
		const wanted = accepts(c, {
			header: "Accept",
			supports: ["application/json", "text/html"],
			default: "application/json",
		});
		if (wanted === "text/html") return c.redirect(DOCS_PATH, 302);
		return c.json({
			name: "EO Edge API",
			version,
			docs: DOCS_PATH,
			openapi: OPENAPI_PATH,
			health: "/v1/health",
			message: `The API is under /v1. Read ${DOCS_PATH} in a browser, or give ${OPENAPI_PATH} to a client generator.`,
		});
	});
}
