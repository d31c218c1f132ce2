/**
 * The contract check (test/contract.ts) on exchanges made up here: it must find each kind of
 * drift, or the integration tests that pass through it prove nothing.
 */
import { describe, expect, it } from "vitest";
import { createJobExample, healthExample, queuedJobExample } from "../../src/routes/v1/examples";
import { checkExchange, documentedOperations } from "../contract";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const KEY = "Bearer eoe_test_0123456789abcdef0123456789abcdef";

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
	return new Response(JSON.stringify(body), {
		status,
		headers: { "content-type": "application/json", traceparent: TRACEPARENT, ...headers },
	});
}

const health = () => new Request("http://localhost/v1/health");

function submit(body: unknown): Request {
	return new Request("http://localhost/v1/jobs", {
		method: "POST",
		headers: { "content-type": "application/json", authorization: KEY },
		body: JSON.stringify(body),
	});
}

const accepted = () => answer(202, queuedJobExample, { location: `/v1/jobs/${queuedJobExample.id}` });

describe("the contract check", () => {
	it("knows every operation of the document", () => {
		expect(documentedOperations).toContain("GET /v1/jobs/{id}/artifacts/{name}");
		expect(documentedOperations).toContain("POST /v1/jobs");
	});

	it("passes an exchange that matches the document", async () => {
		expect(await checkExchange(health(), answer(200, healthExample))).toEqual({
			operation: "GET /v1/health",
			problems: [],
		});
		expect((await checkExchange(submit(createJobExample), accepted())).problems).toEqual([]);
	});

	it("finds an undeclared status, header or body, and a declared header missing", async () => {
		const problems = async (response: Response) => (await checkExchange(health(), response)).problems;
		expect(await problems(answer(418, healthExample))).toEqual(["GET /v1/health → 418: status 418 is not declared"]);
		expect(await problems(answer(200, healthExample, { "x-debug": "1" }))).toEqual([
			"GET /v1/health → 200: header x-debug is sent but not declared",
		]);
		expect((await problems(answer(200, { status: "fine", version: "1" })))[0]).toMatch(/body #\/status: /);
		const untraced = new Response(JSON.stringify(healthExample), { headers: { "content-type": "application/json" } });
		expect(await problems(untraced)).toEqual(["GET /v1/health → 200: declared header traceparent is missing"]);
		const html = new Response("<p>ok</p>", { headers: { "content-type": "text/html", traceparent: TRACEPARENT } });
		expect(await problems(html)).toEqual(["GET /v1/health → 200: content text/html is not declared"]);
	});

	it("finds a request the document refuses but the API accepted", async () => {
		const refused = submit({ ...createJobExample, remote: { allowed_hosts: ["https://example.com/"] } });
		const [problem] = (await checkExchange(refused, accepted())).problems;
		expect(problem).toMatch(/the document refuses the request \(body #\/remote\/allowed_hosts\/0: .*pattern/);
		// The API takes host names in any case; the document's pattern must too.
		const mixedCase = submit({ ...createJobExample, remote: { allowed_hosts: ["Sentinel-COGS.example.com"] } });
		expect((await checkExchange(mixedCase, accepted())).problems).toEqual([]);
		// Refusing such a request is the API's right: only an acceptance is drift.
		const problem422 = answer(422, {}, { "content-type": "application/problem+json" });
		const { problems } = await checkExchange(refused, problem422);
		expect(problems.some((text) => text.includes("refuses the request"))).toBe(false);
	});

	it("leaves paths the document does not describe alone", async () => {
		const docs = new Request("http://localhost/v1/docs");
		expect(await checkExchange(docs, new Response("<html></html>"))).toEqual({ operation: null, problems: [] });
	});
});
