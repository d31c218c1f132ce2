/**
 * Every `pattern` in the published contract is a regular expression a partner's validator can
 * use: it compiles as JSON Schema says (ECMAScript, `u` flag, no other flags), matches the
 * document's own examples and the values listed here, and refuses at least one value listed
 * here. A regex's flags never reach the document, so a flag-dependent pattern shows up here.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** Per pattern (as published): values it must accept beyond the document's examples, and values it must refuse. */
const expectations: Record<string, { accepts?: string[]; refuses: string[] }> = {
	"^upl_[0-9a-f]{24}$": { refuses: ["upl_0123456789ABCDEF01234567", "job_0123456789abcdef01234567"] },
	"^fld_[0-9a-f]{24}$": { refuses: ["fld_0123456789ABCDEF01234567", "upl_0123456789abcdef01234567", "fld_0123"] },
	"^whk_[0-9a-f]{24}$": { refuses: ["whk_0123456789ABCDEF01234567", "fld_0123456789abcdef01234567", "whk_0123"] },
	"^(\\*\\.)?[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$": {
		accepts: ["*.example.com", "Sentinel-COGS.s3.us-west-2.amazonaws.com", "127.0.0.1", "localhost"],
		refuses: ["https://example.com", "*example.com", "-example.com", "example..com", "example.com/"],
	},
	"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$": {
		refuses: ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736"],
	},
	"^\\d+$": { accepts: ["0"], refuses: ["12 ", "-1", "1e6"] },
	// OTLP's ids: lower-case hex, never base64 (the common bug).
	"^[0-9a-f]{32}$": {
		accepts: ["0af7651916cd43dd8448eb211c80319c"],
		refuses: ["0AF7651916CD43DD8448EB211C80319C", "CvdlGRbNQ92ESOshHIAxnA==", "0af7651916cd43dd"],
	},
	"^[0-9a-f]{16}$": { accepts: ["b7ad6b7169203331"], refuses: ["t61rcWkgMzE=", "B7AD6B7169203331", "b7ad6b71"] },
	"^(\\d{1,4})(m|h)$": { accepts: ["1m", "24h", "90m"], refuses: ["1d", "h", "1.5h", "-1h", "1 h"] },
	"^[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?,[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?$": {
		accepts: ["-1,1", ".5,1e3"],
		refuses: ["0", "0;1", "a,b"],
	},
};

interface Found {
	pointer: string;
	pattern: string;
	examples: unknown[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

function examplesOf(node: Record<string, unknown>): unknown[] {
	return [...("example" in node ? [node.example] : []), ...(Array.isArray(node.examples) ? node.examples : [])];
}

/** Every schema with a pattern, with the examples that apply to it: its own, its parameter's, or each item of its array's. */
function findPatterns(node: unknown, pointer: string, inherited: unknown[], found: Found[]): Found[] {
	if (Array.isArray(node)) {
		node.forEach((item, index) => {
			findPatterns(item, `${pointer}/${index}`, [], found);
		});
		return found;
	}
	if (!isObject(node)) return found;
	const own = examplesOf(node);
	if (typeof node.pattern === "string") {
		found.push({ pointer, pattern: node.pattern, examples: [...own, ...inherited] });
	}
	for (const [key, child] of Object.entries(node)) {
		if (key === "example" || key === "examples") continue;
		// A parameter's example is its schema's; an array's examples are lists of its items.
		const passed =
			key === "schema" && typeof node.in === "string"
				? own
				: key === "items"
					? own.flatMap((example) => (Array.isArray(example) ? example : []))
					: [];
		findPatterns(child, `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`, passed, found);
	}
	return found;
}

const document = JSON.parse(readFileSync("openapi/v1.json", "utf8")) as unknown;
const patterns = findPatterns(document, "#", [], []);

describe("patterns in openapi/v1.json", () => {
	it("has patterns to check", () => {
		expect(patterns.length).toBeGreaterThanOrEqual(4);
	});

	it.each(patterns)("$pointer compiles with the u flag and matches its examples", ({ pattern, examples }) => {
		const regex = new RegExp(pattern, "u");
		for (const example of examples) {
			expect(typeof example === "string" && regex.test(example), `example ${JSON.stringify(example)}`).toBe(true);
		}
	});

	it.each(patterns)("$pointer accepts and refuses what the table says", ({ pattern }) => {
		const expected = expectations[pattern];
		expect(
			expected,
			`add ${JSON.stringify(pattern)} to the table in this file, with a value it must refuse`,
		).toBeDefined();
		expect(expected?.refuses.length).toBeGreaterThan(0);
		const regex = new RegExp(pattern, "u");
		for (const value of expected?.accepts ?? []) expect(regex.test(value), `accepts ${value}`).toBe(true);
		for (const value of expected?.refuses ?? []) expect(regex.test(value), `refuses ${value}`).toBe(false);
	});
});
