/** The OpenAPI document as the routes generate it, serialised as it is committed. */
import { createApp, openApiDocumentConfig } from "../src/app";

export const DOCUMENT_PATH = "openapi/v1.json";

export function generateDocument(): string {
	return `${JSON.stringify(createApp().getOpenAPI31Document(openApiDocumentConfig), null, 2)}\n`;
}
