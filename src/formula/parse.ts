/**
 * The band-math grammar: a formula is text parsed into an AST, never evaluated as code.
 *
 *   expression := conjunction ("or" conjunction)*
 *   conjunction:= negation ("and" negation)*
 *   negation   := "not" negation | comparison
 *   comparison := bitOr (("<" | "<=" | ">" | ">=" | "==" | "!=") bitOr)?    one comparison, never a chain
 *   bitOr      := bitAnd ("|" bitAnd)*
 *   bitAnd     := shift ("&" shift)*
 *   shift      := sum (("<<" | ">>") sum)*
 *   sum        := term (("+" | "-") term)*
 *   term       := unary (("*" | "/") unary)*
 *   unary      := "-" unary | power
 *   power      := primary ("**" unary)?          right-associative, binds tighter than "-" on its left
 *   primary    := number | "nan" | name | name "(" expression ("," expression)* ")" | "(" expression ")"
 *
 * This is Python's precedence, which the Awesome Spectral Indices formulas are written in
 * (`-x ** 2` is `-(x ** 2)`, `2 ** -1` is 0.5, `qa >> 4 & 1 == 0` is `((qa >> 4) & 1) == 0`,
 * `a or b and c` is `a or (b and c)`). A chain `a < b < c` is refused rather than read as
 * Python's `a < b and b < c`, which readers of other languages would not expect. Bitwise
 * operands (of `& | << >>` and `bit()`) are integers: an input (read as its raw sample), an
 * integer literal or another bitwise expression, which the parser checks as it builds them.
 * Positions are 1-based columns.
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
	/** where(condition, a, b): a where the condition is non-zero, b where it is zero. */
	where: { min: 3, max: 3 },
	/** bit(x, n): bit n of the integer x, (x >> n) & 1. */
	bit: { min: 2, max: 2 },
} as const;

type FunctionName = keyof typeof functionArity;
export type ArithmeticOperator = "+" | "-" | "*" | "/" | "**";
export type ComparisonOperator = "<" | "<=" | ">" | ">=" | "==" | "!=";
export type LogicalOperator = "and" | "or";
export type BitwiseOperator = "&" | "|" | "<<" | ">>";

export type FormulaNode =
	/** `nan` is a number node of value NaN. */
	| { kind: "number"; value: number; position: number }
	| { kind: "variable"; name: string; position: number }
	| { kind: "negate"; operand: FormulaNode; position: number }
	| { kind: "binary"; operator: ArithmeticOperator; left: FormulaNode; right: FormulaNode; position: number }
	| { kind: "compare"; operator: ComparisonOperator; left: FormulaNode; right: FormulaNode; position: number }
	| { kind: "logical"; operator: LogicalOperator; left: FormulaNode; right: FormulaNode; position: number }
	| { kind: "not"; operand: FormulaNode; position: number }
	| { kind: "bitwise"; operator: BitwiseOperator; left: FormulaNode; right: FormulaNode; position: number }
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

const OPERATORS = [
	"**",
	"<<",
	">>",
	"<=",
	">=",
	"==",
	"!=",
	"+",
	"-",
	"*",
	"/",
	"<",
	">",
	"&",
	"|",
	"(",
	")",
	",",
] as const;
type OperatorText = (typeof OPERATORS)[number];
const COMPARISONS: readonly string[] = ["<", "<=", ">", ">=", "==", "!="] satisfies ComparisonOperator[];
/** Names the grammar reserves: operators spelt as words, and the NaN literal. */
const KEYWORDS: readonly string[] = ["and", "or", "not", "nan"];
/** Characters other languages use where this grammar has a word or another operator. */
const INSTEAD: Record<string, string> = { "=": "'==' to compare", "!": "'not'", "^": "'**' for powers" };

type Token =
	| { type: "number"; value: number; text: string; position: number }
	| { type: "name"; text: string; position: number }
	| { type: "operator"; text: OperatorText; position: number }
	| { type: "end"; text: ""; position: number };

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Integer literals, the only numbers a bitwise operator takes: 1.0 and 1e3 are floats, as in Python. */
const INTEGER = /^\d+$/;

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
		// Longest first: "<=" before "<", "**" before "*".
		const operator = OPERATORS.find((text) => rest.startsWith(text));
		if (operator) {
			tokens.push({ type: "operator", text: operator, position });
			i += operator.length;
			continue;
		}
		const instead = INSTEAD[char];
		throw new FormulaError(`unexpected character '${char}'${instead ? `; use ${instead}` : ""}`, position);
	}
	tokens.push({ type: "end", text: "", position: source.length + 1 });
	return tokens;
}

function describe(token: Token): string {
	return token.type === "end" ? "end of formula" : `'${token.text}'`;
}

/** The token a node stands on, as an error message names it; `text` is a number's own spelling. */
function describeNode(node: FormulaNode, text: string | undefined): string {
	switch (node.kind) {
		case "number":
			return `'${text ?? "nan"}'`;
		case "variable":
			return `'${node.name}'`;
		case "negate":
			return "'-'";
		case "not":
			return "'not'";
		case "call":
			return `'${node.name}()'`;
		default:
			return `'${node.operator}'`;
	}
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
	/** Each number node's spelling: only integers written as such are bitwise operands. */
	const numberText = new Map<FormulaNode, string>();
	let next = 0;
	const peek = (): Token => tokens[next] as Token;
	const take = (): Token => tokens[next++] as Token;
	const isOperator = (text: string): boolean => {
		const token = peek();
		return token.type === "operator" && token.text === text;
	};
	const isWord = (text: string): boolean => {
		const token = peek();
		return token.type === "name" && token.text === text;
	};
	const isComparison = (): boolean => peek().type === "operator" && COMPARISONS.includes(peek().text);
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
	/** Bitwise operators work on integers; a float operand is refused where it is written. */
	const integerOperand = (node: FormulaNode, operator: string): FormulaNode => {
		const integer =
			node.kind === "variable" ||
			node.kind === "bitwise" ||
			(node.kind === "call" && node.name === "bit") ||
			INTEGER.test(numberText.get(node) ?? "");
		if (!integer) {
			throw new FormulaError(
				`${operator} takes an input, an integer or a bitwise expression, not ${describeNode(node, numberText.get(node))}`,
				node.position,
			);
		}
		return node;
	};

	function expression(depth: number): FormulaNode {
		let left = conjunction(depth);
		while (isWord("or")) {
			const { position } = take();
			left = { kind: "logical", operator: "or", left, right: conjunction(depth), position };
		}
		return left;
	}

	function conjunction(depth: number): FormulaNode {
		let left = negation(depth);
		while (isWord("and")) {
			const { position } = take();
			left = { kind: "logical", operator: "and", left, right: negation(depth), position };
		}
		return left;
	}

	function negation(depth: number): FormulaNode {
		if (!isWord("not")) return comparison(depth);
		const { position } = take();
		return { kind: "not", operand: negation(enter(depth, position)), position };
	}

	function comparison(depth: number): FormulaNode {
		const left = bitOr(depth);
		if (!isComparison()) return left;
		const operator = take() as { text: ComparisonOperator; position: number };
		const node: FormulaNode = {
			kind: "compare",
			operator: operator.text,
			left,
			right: bitOr(depth),
			position: operator.position,
		};
		if (isComparison()) {
			throw new FormulaError(
				`comparisons do not chain; write 'a ${operator.text} b and b ${peek().text} c' with 'and'`,
				peek().position,
			);
		}
		return node;
	}

	/** One left-associative level of bitwise operators over `operand`. */
	function bitwiseLevel(
		operators: readonly BitwiseOperator[],
		operand: (depth: number) => FormulaNode,
	): (depth: number) => FormulaNode {
		return (depth) => {
			let left = operand(depth);
			for (;;) {
				const token = peek();
				const operator = operators.find((text) => token.type === "operator" && token.text === text);
				if (!operator) return left;
				next++;
				const quoted = `'${operator}'`;
				left = {
					kind: "bitwise",
					operator,
					left: integerOperand(left, quoted),
					right: integerOperand(operand(depth), quoted),
					position: token.position,
				};
			}
		};
	}
	const shift = bitwiseLevel(["<<", ">>"], sum);
	const bitAnd = bitwiseLevel(["&"], shift);
	const bitOr = bitwiseLevel(["|"], bitAnd);

	function sum(depth: number): FormulaNode {
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
		if (token.type === "number") {
			const node: FormulaNode = { kind: "number", value: token.value, position: token.position };
			numberText.set(node, token.text);
			return node;
		}
		if (token.type === "name" && token.text === "nan") {
			return { kind: "number", value: Number.NaN, position: token.position };
		}
		if (token.type === "name" && !KEYWORDS.includes(token.text)) {
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
			if (token.text === "bit") for (const arg of args) integerOperand(arg, "bit()");
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

/** The operands of a node, in order. */
export function formulaChildren(node: FormulaNode): readonly FormulaNode[] {
	switch (node.kind) {
		case "number":
		case "variable":
			return [];
		case "negate":
		case "not":
			return [node.operand];
		case "binary":
		case "compare":
		case "logical":
		case "bitwise":
			return [node.left, node.right];
		case "call":
			return node.args;
	}
}

/** Whether the node reads its operands as integers: a bitwise operator or bit(). */
export function isBitwise(node: FormulaNode): boolean {
	return node.kind === "bitwise" || (node.kind === "call" && node.name === "bit");
}

/** Every variable the formula names, once each, with the position of its first use. */
export function formulaVariables(node: FormulaNode, found: { name: string; position: number }[] = []) {
	if (node.kind === "variable") {
		if (!found.some((variable) => variable.name === node.name))
			found.push({ name: node.name, position: node.position });
	}
	for (const child of formulaChildren(node)) formulaVariables(child, found);
	return found;
}

/**
 * The variables a bitwise operator or bit() reads as its operand (`raw`: they read the raw
 * sample), and those a comparison, a bitwise operator or bit() reads directly (`compared`: class
 * or bit bands), once each, in order of first use.
 */
export function operandVariables(root: FormulaNode): { raw: string[]; compared: string[] } {
	const raw = new Set<string>();
	const compared = new Set<string>();
	const visit = (node: FormulaNode): void => {
		const bitwise = isBitwise(node);
		if (bitwise || node.kind === "compare") {
			for (const operand of formulaChildren(node)) {
				if (operand.kind !== "variable") continue;
				compared.add(operand.name);
				if (bitwise) raw.add(operand.name);
			}
		}
		formulaChildren(node).forEach(visit);
	};
	visit(root);
	return { raw: [...raw], compared: [...compared] };
}
