/**
 * The contract as the routes generate it: one OpenAPI document per major version, each holding
 * the paths under its `/vN/` prefix, serialised as committed (`openapi/vN.json`). A breaking
 * change goes into a new major's document and leaves the old one as partners know it.
 */
import { createApp, openApiDocumentConfig } from "../src/app";

export const CONTRACT_DIR = "openapi";
export const DOCUMENT_FILE_PATTERN = /^v(\d+)\.json$/;

interface OpenApiDocument {
	paths?: Record<string, unknown>;
	[key: string]: unknown;
}

/** `openapi/vN.json` → document, for every major version that has paths. */
export function splitByMajorVersion(document: OpenApiDocument): Map<string, OpenApiDocument> {
	const byMajor = new Map<string, OpenApiDocument>();
	for (const [path, item] of Object.entries(document.paths ?? {})) {
		const major = /^\/v(\d+)\//.exec(path)?.[1];
		if (major === undefined) throw new Error(`path ${path} is outside any /vN/ major version`);
		const file = `${CONTRACT_DIR}/v${major}.json`;
		const versioned = byMajor.get(file) ?? { ...document, paths: {} };
		(versioned.paths as Record<string, unknown>)[path] = item;
		byMajor.set(file, versioned);
	}
	return byMajor;
}

export function serialise(document: unknown): string {
	return `${JSON.stringify(document, null, 2)}\n`;
}

/** File path → committed text of every major version's document. */
export function generateDocuments(): Map<string, string> {
	const documents = splitByMajorVersion(
		createApp().getOpenAPI31Document(openApiDocumentConfig) as unknown as OpenApiDocument,
	);
	return new Map([...documents].map(([file, document]) => [file, serialise(document)]));
}
