/**
 * The band-math grammar: a formula is text parsed into an AST, never evaluated as code.
 *
 *   expression := term (("+" | "-") term)*
 *   term       := unary (("*" | "/") unary)*
 *   unary      := "-" unary | power
 *   power      := primary ("**" unary)?          right-associative, binds tighter than "-" on its left
 *   primary    := number | name | name "(" expression ("," expression)* ")" | "(" expression ")"
 *
 * This is Python's precedence, which the Awesome Spectral Indices formulas are written in
 * (`-x ** 2` is `-(x ** 2)`, `2 ** -1` is 0.5). Positions are 1-based columns.
 */

const functionArity = {
	min: { min: 2, max: Number.POSITIVE_INFINITY },
	max: { min: 2, max: Number.POSITIVE_INFINITY },
	abs: { min: 1, max: 1 },
	sqrt: { min: 1, max: 1 },
	exp: { min: 1, max: 1 },
	log: { min: 1, max: 1 },
	tanh: { min: 1, max: 1 },
	clamp: { min: 3, max: 3 },
} as const;

type FunctionName = keyof typeof functionArity;
type BinaryOperator = "+" | "-" | "*" | "/" | "**";

export type FormulaNode =
	| { kind: "number"; value: number; position: number }
	| { kind: "variable"; name: string; position: number }
	| { kind: "negate"; operand: FormulaNode; position: number }
	| { kind: "binary"; operator: BinaryOperator; left: FormulaNode; right: FormulaNode; position: number }
	| { kind: "call"; name: FunctionName; args: FormulaNode[]; position: number };

/** Longest formula accepted; the longest catalog formula is about 220 characters. */
export const MAX_FORMULA_LENGTH = 1000;
/** Deepest nesting of operators, calls and parentheses accepted. */
export const MAX_FORMULA_DEPTH = 32;

/** A formula that does not parse or bind; `position` is the 1-based column of the token at fault. */
export class FormulaError extends Error {
	readonly position: number | null;

	constructor(message: string, position: number | null) {
		super(position === null ? message : `${message} at ${position}`);
		this.name = "FormulaError";
		this.position = position;
	}
}

type Token =
	| { type: "number"; value: number; text: string; position: number }
	| { type: "name"; text: string; position: number }
	| { type: "operator"; text: "+" | "-" | "*" | "/" | "**" | "(" | ")" | ","; position: number }
	| { type: "end"; text: ""; position: number };

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

function isFunctionName(name: string): name is FunctionName {
	return Object.hasOwn(functionArity, name);
}

function tokenize(source: string): Token[] {
	const tokens: Token[] = [];
	let i = 0;
	while (i < source.length) {
		const rest = source.slice(i);
		const position = i + 1;
		const char = source[i] as string;
		if (/\s/.test(char)) {
			i++;
			continue;
		}
		const number = NUMBER.exec(rest);
		if (number) {
			const text = number[0];
			tokens.push({ type: "number", value: Number(text), text, position });
			i += text.length;
			if (NAME.test(source.slice(i))) throw new FormulaError(`unexpected '${source[i]}' after number`, i + 1);
			continue;
		}
		const name = NAME.exec(rest);
		if (name) {
			tokens.push({ type: "name", text: name[0], position });
			i += name[0].length;
			continue;
		}
		if (rest.startsWith("**")) {
			tokens.push({ type: "operator", text: "**", position });
			i += 2;
			continue;
		}
		if ("+-*/(),".includes(char)) {
			tokens.push({ type: "operator", text: char as "+", position });
			i++;
			continue;
		}
		throw new FormulaError(`unexpected character '${char}'`, position);
	}
	tokens.push({ type: "end", text: "", position: source.length + 1 });
	return tokens;
}

function describe(token: Token): string {
	return token.type === "end" ? "end of formula" : `'${token.text}'`;
}

/** Parses a formula into its AST, or throws a FormulaError pointing at the offending token. */
export function parseFormula(source: string): FormulaNode {
	if (source.length > MAX_FORMULA_LENGTH) {
		throw new FormulaError(
			`formula is ${source.length} characters long; at most ${MAX_FORMULA_LENGTH} are allowed`,
			null,
		);
	}
	const tokens = tokenize(source);
	let next = 0;
	const peek = (): Token => tokens[next] as Token;
	const take = (): Token => tokens[next++] as Token;
	const isOperator = (text: string): boolean => {
		const token = peek();
		return token.type === "operator" && token.text === text;
	};
	const expect = (text: string): void => {
		if (!isOperator(text)) throw new FormulaError(`expected '${text}', found ${describe(peek())}`, peek().position);
		next++;
	};
	const enter = (depth: number, position: number): number => {
		if (depth >= MAX_FORMULA_DEPTH) {
			throw new FormulaError(`formula is nested more than ${MAX_FORMULA_DEPTH} levels deep`, position);
		}
		return depth + 1;
	};

	function expression(depth: number): FormulaNode {
		let left = term(depth);
		while (isOperator("+") || isOperator("-")) {
			const operator = take() as { text: "+" | "-"; position: number };
			left = { kind: "binary", operator: operator.text, left, right: term(depth), position: operator.position };
		}
		return left;
	}

	function term(depth: number): FormulaNode {
		let left = unary(depth);
		while (isOperator("*") || isOperator("/")) {
			const operator = take() as { text: "*" | "/"; position: number };
			left = { kind: "binary", operator: operator.text, left, right: unary(depth), position: operator.position };
		}
		return left;
	}

	function unary(depth: number): FormulaNode {
		if (isOperator("-")) {
			const { position } = take();
			return { kind: "negate", operand: unary(enter(depth, position)), position };
		}
		return power(depth);
	}

	function power(depth: number): FormulaNode {
		const base = primary(depth);
		if (!isOperator("**")) return base;
		const { position } = take();
		return { kind: "binary", operator: "**", left: base, right: unary(enter(depth, position)), position };
	}

	function primary(depth: number): FormulaNode {
		const token = take();
		if (token.type === "number") return { kind: "number", value: token.value, position: token.position };
		if (token.type === "name") {
			if (!isOperator("(")) return { kind: "variable", name: token.text, position: token.position };
			if (!isFunctionName(token.text)) {
				throw new FormulaError(
					`unknown function '${token.text}'; use ${Object.keys(functionArity).join(", ")}`,
					token.position,
				);
			}
			next++;
			const inner = enter(depth, token.position);
			const args = [expression(inner)];
			while (isOperator(",")) {
				next++;
				args.push(expression(inner));
			}
			expect(")");
			const arity = functionArity[token.text];
			if (args.length < arity.min || args.length > arity.max) {
				const wanted = arity.min === arity.max ? `${arity.min}` : `at least ${arity.min}`;
				throw new FormulaError(
					`${token.text}() takes ${wanted} argument${arity.min === 1 ? "" : "s"}, got ${args.length}`,
					token.position,
				);
			}
			return { kind: "call", name: token.text, args, position: token.position };
		}
		if (token.type === "operator" && token.text === "(") {
			const inner = expression(enter(depth, token.position));
			expect(")");
			return inner;
		}
		throw new FormulaError(`expected a number, name or '(', found ${describe(token)}`, token.position);
	}

	const root = expression(0);
	if (peek().type !== "end") throw new FormulaError(`unexpected ${describe(peek())}`, peek().position);
	return root;
}

/** Every variable the formula names, once each, with the position of its first use. */
export function formulaVariables(node: FormulaNode, found: { name: string; position: number }[] = []) {
	switch (node.kind) {
		case "number":
			break;
		case "variable":
			if (!found.some((variable) => variable.name === node.name))
				found.push({ name: node.name, position: node.position });
			break;
		case "negate":
			formulaVariables(node.operand, found);
			break;
		case "binary":
			formulaVariables(node.left, found);
			formulaVariables(node.right, found);
			break;
		case "call":
			for (const arg of node.args) formulaVariables(arg, found);
			break;
	}
	return found;
}
