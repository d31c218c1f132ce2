/**
 * GET /v1/docs: the interactive API reference (Scalar) over /v1/openapi.json. Its script is a
 * static asset of this worker and its fonts are the system's, so the page works offline.
 */
import { Scalar } from "@scalar/hono-api-reference";
import type { App } from "../../context";

export const DOCS_PATH = "/v1/docs";
export const DOCS_SCRIPT_PATH = `${DOCS_PATH}/scalar-api-reference.js`;
/** Where the app serves the generated OpenAPI document. */
export const OPENAPI_PATH = "/v1/openapi.json";

const FAVICON =
	"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='%231a9850'/%3E%3C/svg%3E";

export function registerDocs(app: App): void {
	app.get(
		DOCS_PATH,
		Scalar({
			url: OPENAPI_PATH,
			cdn: DOCS_SCRIPT_PATH,
			pageTitle: "EO Edge API reference",
			// Inline, so the browser does not ask the API for /favicon.ico.
			favicon: FAVICON,
			defaultOpenAllTags: true,
			withDefaultFonts: false,
			telemetry: false,
			hideClientButton: true,
			showDeveloperTools: "never",
			agent: { disabled: true },
			mcp: { disabled: true },
		}),
	);
}
