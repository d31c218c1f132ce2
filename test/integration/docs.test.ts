import { describe, expect, it } from "vitest";
import { DOCS_SCRIPT_PATH } from "../../src/routes/v1/docs";
import { api } from "../helpers";

describe("GET /v1/docs", () => {
	it("serves the API reference for the v1 document with its script from this worker, not a CDN", async () => {
		const response = await api("/v1/docs");
		expect(response.status).toBe(200);
		expect(response.headers.get("content-type")).toMatch(/^text\/html/);
		const html = await response.text();
		expect(html).toContain(`<script src="${DOCS_SCRIPT_PATH}"`);
		expect(html).toContain("/v1/openapi.json");
		const externalSources = [...html.matchAll(/\b(?:src|href)="(https?:[^"]*)"/g)].map((match) => match[1]);
		expect(externalSources).toEqual([]);
		expect(html).not.toContain("cdn.jsdelivr.net");
	});
});
