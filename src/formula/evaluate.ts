/**
 * Evaluates a formula AST one pixel at a time with the Wasm evaluator's float32 semantics:
 * every operation rounds to float32 and every operation propagates NaN (also `x ** 0` and
 * `min`/`max`, so a nodata input always yields NaN). It is the plain reference the bytecode
 * evaluator is checked against, and samples formulas for their histogram range.
 */
import type { FormulaNode } from "./parse";

const f32 = Math.fround;

/** `values` gives each variable's value; a name it lacks evaluates to NaN. */
export function evaluateFormula(node: FormulaNode, values: Readonly<Record<string, number>>): number {
	switch (node.kind) {
		case "number":
			return f32(node.value);
		case "variable":
			return f32(values[node.name] ?? Number.NaN);
		case "negate":
			return -evaluateFormula(node.operand, values);
		case "binary": {
			const a = evaluateFormula(node.left, values);
			const b = evaluateFormula(node.right, values);
			switch (node.operator) {
				case "+":
					return f32(a + b);
				case "-":
					return f32(a - b);
				case "*":
					return f32(a * b);
				case "/":
					return f32(a / b);
				case "**":
					return power(a, b);
			}
			break;
		}
		case "call": {
			const args = node.args.map((arg) => evaluateFormula(arg, values));
			const [x = Number.NaN, lo = Number.NaN, hi = Number.NaN] = args;
			switch (node.name) {
				case "min":
					return Math.min(...args);
				case "max":
					return Math.max(...args);
				case "abs":
					return Math.abs(x);
				case "sqrt":
					return f32(Math.sqrt(x));
				case "exp":
					return f32(Math.exp(x));
				case "log":
					return f32(Math.log(x));
				case "tanh":
					return f32(Math.tanh(x));
				case "clamp":
					return Math.min(Math.max(x, lo), hi);
			}
		}
	}
	throw new Error("unreachable formula node");
}

/** `a ** b` as Math.pow, except that a NaN base stays NaN (Math.pow(NaN, 0) is 1). */
function power(a: number, b: number): number {
	return Number.isNaN(a) ? Number.NaN : f32(a ** b);
}
