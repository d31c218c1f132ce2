/**
 * Evaluates a formula AST one pixel at a time with the Wasm evaluator's float32 semantics:
 * every operation rounds to float32 and every operation propagates NaN (also `x ** 0`,
 * `min`/`max`, comparisons, `and`/`or`/`not` and a `where` whose condition is NaN, so a nodata
 * input always yields NaN). It is the plain reference the bytecode evaluator is checked against,
 * folds constants, and samples formulas for their histogram range.
 */
import type { ArithmeticOperator, BitwiseOperator, ComparisonOperator, FormulaNode, LogicalOperator } from "./parse";

const f32 = Math.fround;

/**
 * `values` gives each variable's value; a name it lacks evaluates to NaN. A bitwise operand that
 * is a variable reads `raw` instead (an input's sample before its scale and offset), or `values`
 * for a name `raw` lacks (a constant, or an unscaled input).
 */
export function evaluateFormula(
	node: FormulaNode,
	values: Readonly<Record<string, number>>,
	raw: Readonly<Record<string, number>> = {},
): number {
	const evaluate = (child: FormulaNode) => evaluateFormula(child, values, raw);
	if (node.kind === "bitwise" || (node.kind === "call" && node.name === "bit")) {
		const [a, b] = (node.kind === "bitwise" ? [node.left, node.right] : node.args).map((operand) =>
			operand.kind === "variable" ? f32(raw[operand.name] ?? values[operand.name] ?? Number.NaN) : evaluate(operand),
		) as [number, number];
		if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
		return f32(bitwise(node.kind === "bitwise" ? node.operator : "bit", toInt32(a), toInt32(b)));
	}
	switch (node.kind) {
		case "number":
			return f32(node.value);
		case "variable":
			return f32(values[node.name] ?? Number.NaN);
		case "negate":
			return -evaluate(node.operand);
		case "not": {
			const a = evaluate(node.operand);
			return Number.isNaN(a) ? Number.NaN : truth(a === 0);
		}
		case "binary":
		case "compare":
		case "logical": {
			const a = evaluate(node.left);
			const b = evaluate(node.right);
			if (node.kind === "binary") return arithmetic(node.operator, a, b);
			if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
			return truth(node.kind === "compare" ? compare(node.operator, a, b) : logical(node.operator, a, b));
		}
		case "call": {
			const args = node.args.map(evaluate);
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
				case "where": {
					const [condition, holds, otherwise] = [x, lo, hi];
					return Number.isNaN(condition) ? Number.NaN : condition !== 0 ? holds : otherwise;
				}
			}
		}
	}
	throw new Error("unreachable formula node");
}

function truth(holds: boolean): number {
	return holds ? 1 : 0;
}

function arithmetic(operator: ArithmeticOperator, a: number, b: number): number {
	switch (operator) {
		case "+":
			return f32(a + b);
		case "-":
			return f32(a - b);
		case "*":
			return f32(a * b);
		case "/":
			return f32(a / b);
		case "**":
			// Math.pow(NaN, 0) is 1; a NaN base stays NaN.
			return Number.isNaN(a) ? Number.NaN : f32(a ** b);
	}
}

function compare(operator: ComparisonOperator, a: number, b: number): boolean {
	switch (operator) {
		case "<":
			return a < b;
		case "<=":
			return a <= b;
		case ">":
			return a > b;
		case ">=":
			return a >= b;
		case "==":
			return a === b;
		case "!=":
			return a !== b;
	}
}

function logical(operator: LogicalOperator, a: number, b: number): boolean {
	return operator === "and" ? a !== 0 && b !== 0 : a !== 0 || b !== 0;
}

/** Wasm's i32.trunc_sat_f32_s: toward zero, saturating at the int32 range. */
function toInt32(x: number): number {
	return Math.min(Math.max(Math.trunc(x), -(2 ** 31)), 2 ** 31 - 1);
}

/** A bitwise operation over int32 operands, as Wasm's i32 operations (shift counts taken mod 32). */
function bitwise(operator: BitwiseOperator | "bit", a: number, b: number): number {
	switch (operator) {
		case "bit":
			return (a >> b) & 1;
		case "&":
			return a & b;
		case "|":
			return a | b;
		case "<<":
			return a << b;
		case ">>":
			return a >> b;
	}
}
