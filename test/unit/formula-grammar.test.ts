// The grammar of masks and conditions: Python's precedence, the refusals (chained comparisons,
// non-integer bitwise operands) with their token's position, the reference semantics of NaN,
// and what a compiled formula tells the validate stage about its inputs.
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/errors/api-error";
import { evaluateFormula } from "../../src/formula/evaluate";
import { type FormulaNode, parseFormula } from "../../src/formula/parse";
import { bitwiseTypeProblem, type CompiledFormula, compileFormula } from "../../src/indices/formula";

/** The formula fully parenthesized, so a test states the tree it expects. */
function shape(node: FormulaNode): string {
	switch (node.kind) {
		case "number":
			return Number.isNaN(node.value) ? "nan" : String(node.value);
		case "variable":
			return node.name;
		case "negate":
			return `(-${shape(node.operand)})`;
		case "not":
			return `(not ${shape(node.operand)})`;
		case "call":
			return `${node.name}(${node.args.map(shape).join(", ")})`;
		default:
			return `(${shape(node.left)} ${node.operator} ${shape(node.right)})`;
	}
}

/** The 422 a custom expression over `inputs` gets, as its first error message. */
function refusal(expression: string, inputs: string[], constants: Record<string, number> = {}): string {
	try {
		compileFormula({ expression, constants, inputs: Object.fromEntries(inputs.map((name) => [name, {}])) });
	} catch (error) {
		if (!(error instanceof ApiError)) throw error;
		expect(error.code).toBe("invalid-formula");
		return error.errors?.[0]?.message ?? "";
	}
	throw new Error(`${expression} compiled`);
}

describe("precedence, as Python's", () => {
	const cases: [string, string][] = [
		["(qa >> 4) & 1 == 0", "(((qa >> 4) & 1) == 0)"],
		["qa >> 4 & 1 == 0", "(((qa >> 4) & 1) == 0)"],
		["not a < b and c", "((not (a < b)) and c)"],
		["a or b and c", "(a or (b and c))"],
		["a and b or c", "((a and b) or c)"],
		["not not a or b", "((not (not a)) or b)"],
		["a | b & c << 2 == d + 1", "((a | (b & (c << 2))) == (d + 1))"],
		["x & 1 | x >> 2 & 3", "((x & 1) | ((x >> 2) & 3))"],
		["a >> 1 >> 2", "((a >> 1) >> 2)"],
		["a + 1 > b * 2", "((a + 1) > (b * 2))"],
		["-a ** 2 <= 1", "((-(a ** 2)) <= 1)"],
		["a < b or b == c and not c != 1", "((a < b) or ((b == c) and (not (c != 1))))"],
		["a >= b and (b == c) == d", "((a >= b) and ((b == c) == d))"],
		["where(bit(qa, 3) == 0, nir, nan)", "where((bit(qa, 3) == 0), nir, nan)"],
		["where(a > 0 and b, -a, a / b)", "where(((a > 0) and b), (-a), (a / b))"],
	];
	for (const [formula, expected] of cases) {
		it(`${formula} is ${expected}`, () => {
			expect(shape(parseFormula(formula))).toBe(expected);
		});
	}
});

describe("refusals", () => {
	it("refuses a chained comparison at its second operator, asking for 'and'", () => {
		expect(refusal("a < b < c", ["a", "b", "c"])).toBe(
			"comparisons do not chain; write 'a < b and b < c' with 'and' at 7",
		);
		expect(refusal("a == b != c", ["a", "b", "c"])).toMatch(/with 'and' at 8$/);
		expect(refusal("not a <= b >= c", ["a", "b", "c"])).toMatch(/'a <= b and b >= c' with 'and' at 12$/);
	});

	it("refuses a bitwise operand that is not an input, an integer or bitwise, naming its token", () => {
		const inputs = ["qa", "nir"];
		const uses = "takes an input, an integer or a bitwise expression";
		expect(refusal("nir * (qa & 1.5)", inputs)).toBe(`'&' ${uses}, not '1.5' at 13`);
		expect(refusal("qa & 1 + nir", inputs)).toBe(`'&' ${uses}, not '+' at 8`);
		expect(refusal("qa & (nir * 2)", inputs)).toBe(`'&' ${uses}, not '*' at 11`);
		expect(refusal("(qa > 1) | nir", inputs)).toBe(`'|' ${uses}, not '>' at 5`);
		expect(refusal("-qa >> nir", inputs)).toBe(`'>>' ${uses}, not '-' at 1`);
		expect(refusal("nir * (qa << 1e3)", inputs)).toBe(`'<<' ${uses}, not '1e3' at 14`);
		expect(refusal("nir * bit(qa, 1.0)", inputs)).toBe(`bit() ${uses}, not '1.0' at 15`);
		expect(refusal("bit(nir + qa, 2)", inputs)).toBe(`bit() ${uses}, not '+' at 9`);
		expect(refusal("nir * (qa & nan)", inputs)).toBe(`'&' ${uses}, not 'nan' at 13`);
		expect(refusal("qa & where(nir, 1, 2)", inputs)).toBe(`'&' ${uses}, not 'where()' at 6`);
		expect(refusal("nir * (qa & k)", inputs, { k: 0.5 })).toBe(
			"bitwise operators take integers, not the constant 'k' = 0.5 at 13",
		);
		expect(() =>
			compileFormula({ expression: "qa & k | nir", constants: { k: 3 }, inputs: { qa: {}, nir: {} } }),
		).not.toThrow();
	});

	it("names what other languages spell differently, and keeps its words out of names", () => {
		expect(refusal("a = 1", ["a"])).toBe("unexpected character '='; use '==' to compare at 3");
		expect(refusal("!a", ["a"])).toBe("unexpected character '!'; use 'not' at 1");
		expect(refusal("a ^ 2", ["a"])).toBe("unexpected character '^'; use '**' for powers at 3");
		expect(refusal("a and", ["a"])).toBe("expected a number, name or '(', found end of formula at 6");
		expect(refusal("or + a", ["a"])).toBe("expected a number, name or '(', found 'or' at 1");
		expect(refusal("where(a, 1)", ["a"])).toBe("where() takes 3 arguments, got 2 at 1");
	});
});

describe("NaN in the reference evaluator", () => {
	const at = (formula: string, x: number) => evaluateFormula(parseFormula(formula), { x });
	const cases: [string, number, number][] = [
		["x < 1", 0, 1],
		["x < 1", 2, 0],
		["x < 1", Number.NaN, Number.NaN],
		["x == x", Number.NaN, Number.NaN],
		["x != 1", Number.NaN, Number.NaN],
		["x != 1", 2, 1],
		["not x", 0, 1],
		["not x", -0, 1],
		["not x", 0.5, 0],
		["not x", Number.NaN, Number.NaN],
		["x and 1", 2, 1],
		["0 and x", Number.NaN, Number.NaN],
		["x or 1", 0, 1],
		["1 or x", Number.NaN, Number.NaN],
		["where(x, 1, 2)", 3, 1],
		["where(x, 1, 2)", 0, 2],
		["where(x, 1, 2)", -0, 2],
		["where(x, 1, 2)", Number.NaN, Number.NaN],
		["where(x > 0, x, nan)", -1, Number.NaN],
		["where(x > 0, nan, 5)", -1, 5],
		["x & 1", 5, 1],
		["x & 1", Number.NaN, Number.NaN],
		["x | 8", 5.9, 13],
		["x >> 1", -5, -3],
		["bit(x, 1)", 6, 1],
		["bit(x, 1)", 5, 0],
		["bit(x, 1)", Number.NaN, Number.NaN],
		["nan", 0, Number.NaN],
	];
	for (const [formula, x, expected] of cases) {
		it(`${formula} at x = ${Object.is(x, -0) ? "-0" : x} is ${expected}`, () => {
			expect(at(formula, x)).toBe(expected);
		});
	}

	it("reads a bitwise operand's raw sample and every other use's scaled value", () => {
		const ast = parseFormula("where(qa & 1, qa, 0)");
		expect(evaluateFormula(ast, { qa: 6 }, { qa: 3 })).toBe(6);
		expect(evaluateFormula(ast, { qa: 6 }, { qa: 2 })).toBe(0);
	});
});

describe("what a compiled formula tells validate", () => {
	it("lists the inputs bitwise operators read raw and the inputs compared or bitwise, once each", () => {
		const formula = compileFormula({
			expression: "where(bit(qa, 3) == 0 and scl != 8 and (qa >> k) & 1 == 0 and nir > 0.1 * red, nir, nan)",
			constants: { k: 4 },
			inputs: { nir: {}, red: {}, qa: {}, scl: {} },
		});
		expect([formula.rawInputs, formula.comparedInputs]).toEqual([["qa"], ["qa", "scl", "nir"]]);
		const ndvi = compileFormula({ index: "NDVI", inputs: { nir: {}, red: {} } });
		expect([ndvi.rawInputs, ndvi.comparedInputs]).toEqual([[], []]);
	});

	it("refuses bitwise operators over a float band as invalid-formula naming the input", () => {
		const formula = compileFormula({ expression: "(qa & 1) * nir", inputs: { qa: {}, nir: {} } });
		const types: Record<string, string> = { qa: "Float32", nir: "Float32" };
		const problem = bitwiseTypeProblem(formula, (input) => types[input] as string);
		expect(problem).toBeInstanceOf(ApiError);
		expect([problem?.code, problem?.status, problem?.errors]).toEqual([
			"invalid-formula",
			422,
			[{ path: "inputs.qa", message: "is Float32; bitwise operators and bit() read raw samples of an integer band" }],
		]);
		for (const integer of ["Byte", "Int8", "UInt16", "Int16", "UInt32", "Int32", "uint16"]) {
			expect(
				bitwiseTypeProblem(formula, () => integer),
				integer,
			).toBeNull();
		}
		// A formula stored before bitwise operators existed lists none.
		const stored = JSON.parse(JSON.stringify({ ...formula, rawInputs: undefined })) as CompiledFormula;
		expect(bitwiseTypeProblem(stored, () => "Float64")).toBeNull();
	});
});
