import { describe, expect, it } from "vitest";
import { DOCS_SCRIPT_PATH } from "../../src/routes/v1/docs";
import { anonymous, api, json } from "../helpers";

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

describe("GET /", () => {
	it("sends a browser to the API reference", async () => {
		const response = await anonymous("/", {
			headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
			redirect: "manual",
		});
		expect(response.status).toBe(302);
		expect(response.headers.get("location")).toBe("/v1/docs");
	});

	it("gives any other client the addresses of the reference and the OpenAPI document", async () => {
		for (const accept of [undefined, "*/*", "application/json"]) {
			const response = await anonymous("/", { headers: accept === undefined ? {} : { accept } });
			expect(response.status).toBe(200);
			expect(response.headers.get("link")).toBe(
				'</v1/openapi.json>; rel="service-desc", </v1/docs>; rel="service-doc"',
			);
			expect(await json(response)).toMatchObject({
				docs: "/v1/docs",
				openapi: "/v1/openapi.json",
				health: "/v1/health",
			});
		}
		expect((await anonymous("/v1/openapi.json")).status).toBe(200);
	});
});
