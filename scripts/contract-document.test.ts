/**
 * What partners rely on in the document: every operation named, tagged, summarised and
 * illustrated, every error the one problem schema, and every example a value the schema accepts.
 */
import type { z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { scopes } from "../src/access/api-keys";
import { createApp } from "../src/app";
import { generateDocuments, splitByMajorVersion } from "./contract-document";

interface MediaType {
	schema?: { $ref?: string; format?: string; properties?: Record<string, unknown> };
	example?: unknown;
}
interface Operation {
	operationId?: string;
	tags?: string[];
	summary?: string;
	requestBody?: { content: Record<string, MediaType> };
	security?: Record<string, string[]>[];
	responses: Record<string, { content?: Record<string, MediaType> }>;
}

const document = JSON.parse(generateDocuments().get("openapi/v1.json") ?? "{}") as {
	paths: Record<string, Record<string, Operation>>;
	components: {
		securitySchemes?: Record<string, { type: string; scheme?: string }>;
		schemas?: Record<string, { properties?: Record<string, unknown> }>;
	};
};
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
	Object.entries(methods).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
);
const isJson = (mediaType: string) => mediaType === "application/json" || mediaType.endsWith("+json");

describe("the OpenAPI document", () => {
	it("has operations to check", () => {
		expect(operations.length).toBeGreaterThanOrEqual(8);
	});

	it.each(operations)("$name has an operationId, a tag and a summary", ({ operation }) => {
		expect(operation.operationId).toMatch(/^[a-z][A-Za-z]+$/);
		expect(operation.tags?.length).toBeGreaterThan(0);
		expect(operation.summary?.length).toBeGreaterThan(0);
	});

	it.each(operations)("$name shows an example of every JSON body it takes and returns", ({ operation }) => {
		const bodies = [
			...Object.entries(operation.requestBody?.content ?? {}),
			...Object.values(operation.responses).flatMap((response) => Object.entries(response.content ?? {})),
			// A byte range of a JSON artifact is bytes, not a JSON value to show.
		].filter(([mediaType, body]) => isJson(mediaType) && body.schema?.format !== "binary");
		for (const [mediaType, body] of bodies) expect(body.example, mediaType).toBeDefined();
	});

	it.each(operations)("$name gives every JSON answer a schema that names its fields", ({ operation }) => {
		for (const [status, response] of Object.entries(operation.responses)) {
			for (const [mediaType, body] of Object.entries(response.content ?? {})) {
				if (!isJson(mediaType) || body.schema?.format === "binary") continue;
				const ref = body.schema?.$ref ?? "";
				const schema = ref ? document.components.schemas?.[ref.replace("#/components/schemas/", "")] : body.schema;
				expect(Object.keys(schema?.properties ?? {}), `${status} ${mediaType}`).not.toEqual([]);
			}
		}
	});

	it.each(operations)("$name answers every error with the one problem schema", ({ operation }) => {
		const errors = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
		expect(errors.map(([status]) => status)).toContain("500");
		for (const [status, response] of errors) {
			expect(Object.keys(response.content ?? {}), status).toEqual(["application/problem+json"]);
			expect(response.content?.["application/problem+json"]?.schema?.$ref, status).toBe("#/components/schemas/Problem");
		}
	});

	it("declares the bearer key scheme, and every upload, job, field set, webhook and operator operation needs one key scope", () => {
		expect(document.components.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
		// The job page: a browser's navigation sends no key, so the page asks for one itself.
		const keyless = new Set(["GET /v1/jobs/{id}/view"]);
		for (const { name, operation } of operations) {
			const keyed = /^\S+ \/v1\/(uploads|jobs|fields|webhooks|ops)/.test(name) && !keyless.has(name);
			if (keyed) {
				expect(operation.security, name).toHaveLength(1);
				const [scope] = operation.security?.[0]?.bearerAuth ?? [];
				expect(scopes as readonly string[], name).toContain(scope);
				expect(Object.keys(operation.responses), name).toEqual(expect.arrayContaining(["401", "403", "429"]));
			} else {
				expect(operation.security, name).toBeUndefined();
			}
		}
	});

	it("only shows examples its own schemas accept", () => {
		let checked = 0;
		for (const definition of createApp().openAPIRegistry.definitions) {
			if (definition.type !== "route") continue;
			const { route } = definition;
			const bodies = [
				...Object.values(route.request?.body?.content ?? {}),
				...Object.values(route.responses).flatMap((response) =>
					"content" in response ? Object.values(response.content ?? {}) : [],
				),
			] as { schema: z.ZodType; example?: unknown }[];
			for (const body of bodies) {
				if (body.example === undefined) continue;
				const parsed = body.schema.safeParse(body.example);
				expect(parsed.success, `${route.method} ${route.path}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
				checked++;
			}
		}
		expect(checked).toBeGreaterThanOrEqual(operations.length);
	});

	it("puts each major version's paths in its own document, with the shared components", () => {
		const both = {
			openapi: "3.1.0",
			paths: { "/v1/jobs": { get: {} }, "/v2/jobs": { get: {} }, "/v1/health": { get: {} } },
			components: { schemas: { Job: { type: "object" } } },
		};
		const split = splitByMajorVersion(both);
		expect([...split.keys()]).toEqual(["openapi/v1.json", "openapi/v2.json"]);
		expect(Object.keys(split.get("openapi/v1.json")?.paths ?? {})).toEqual(["/v1/jobs", "/v1/health"]);
		expect(Object.keys(split.get("openapi/v2.json")?.paths ?? {})).toEqual(["/v2/jobs"]);
		expect(split.get("openapi/v2.json")?.components).toEqual(both.components);
		expect(() => splitByMajorVersion({ paths: { "/jobs": {} } })).toThrow(/outside any \/vN\/ major version/);
	});
});
