/**
 * Compiles a formula AST into the bytecode the Wasm evaluator runs (evaluate() in
 * wasm/assembly/kernels.ts). The program is a register machine over blocks of pixels:
 * registers [0, inputs) hold the inputs, the next ones the raw samples of the inputs bitwise
 * operators read (`rawOf`), then the constants, the rest temporaries.
 * Each instruction is five int32 words: opcode, destination, operands a, b and c. The last
 * instruction writes the result register, which the evaluator sends straight to the output.
 * Constant subtrees are folded with the reference semantics, constant exponents are
 * strength-reduced (integer powers to multiplications, 0.5 to sqrt), and an arithmetic
 * operation is fused with one arithmetic operand where the tree allows (each saves a pass).
 */
import { evaluateFormula } from "./evaluate";
import {
	type BitwiseOperator,
	type ComparisonOperator,
	FormulaError,
	type FormulaNode,
	formulaChildren,
	isBitwise,
} from "./parse";

/** Opcodes shared with wasm/assembly/kernels.ts. */
export const opcodes = {
	add: 1,
	sub: 2,
	mul: 3,
	div: 4,
	min: 5,
	max: 6,
	pow: 7,
	neg: 8,
	abs: 9,
	sqrt: 10,
	exp: 11,
	log: 12,
	tanh: 13,
	/** (a - b) / (a + b) in one instruction: the same three float32 operations, one pass. */
	normalizedDifference: 14,
	// Comparisons, logic and where() give 1 or 0, and NaN where an operand (a condition) is NaN.
	less: 15,
	lessOrEqual: 16,
	greater: 17,
	greaterOrEqual: 18,
	equal: 19,
	notEqual: 20,
	and: 21,
	or: 22,
	not: 23,
	/** where(a, b, c): b where a is non-zero, c where it is zero. */
	where: 24,
	// Bitwise operations on the operands truncated to int32; NaN in, NaN out.
	bitAnd: 25,
	bitOr: 26,
	shiftLeft: 27,
	shiftRight: 28,
	/** (a >> b) & 1 in one instruction. */
	bit: 29,
	/**
	 * Not an instruction: four more operands (p, q, r, k) of the instruction after it, which is
	 * always scaledRatio. Opcodes PAIR_BASE to PAIR_BASE + 31 come before it.
	 */
	operands: 64,
	/**
	 * (c * (a - b)) / (((p + k0 * q) - k1 * r) + k2) in one pass (EVI's shape), each operation rounded
	 * as on its own, with p, q, r and k from the operands slot before it; c and k0, k1, k2 (registers
	 * k, k + 1, k + 2) are constants.
	 */
	scaledRatio: 65,
} as const;

/**
 * Two arithmetic operations in one pass, each rounded as on its own: `second(first(a, b), c)`,
 * or `second(c, first(a, b))` when swapped. Opcodes PAIR_BASE to PAIR_BASE + 31.
 */
export const PAIR_BASE = 32;
type Arithmetic = "+" | "-" | "*" | "/";
const arithmeticIndex: Record<Arithmetic, number> = { "+": 0, "-": 1, "*": 2, "/": 3 };
function pairOpcode(first: Arithmetic, second: Arithmetic, swapped: boolean): number {
	return PAIR_BASE + (arithmeticIndex[first] * 4 + arithmeticIndex[second]) * 2 + (swapped ? 1 : 0);
}

type Opcode = (typeof opcodes)[keyof typeof opcodes] | number;

export interface Program {
	/** INSTRUCTION_WORDS int32 words per instruction: opcode, destination, operands a, b, c (unused: 0). */
	code: number[];
	/** How many inputs the program reads, into registers [0, inputs). */
	inputs: number;
	/**
	 * For each of registers [inputs, inputs + rawOf.length), the input whose raw sample it holds:
	 * the same data read with scale 1 and offset 0 (nodata still NaN), for bitwise operators.
	 * Programs compiled before bitwise operators existed lack it: none.
	 */
	rawOf?: number[];
	/**
	 * Values of the registers after the raw ones. A stored program holds JSON's null for a
	 * non-finite value (the `nan` literal), which the evaluator reads as NaN.
	 */
	constants: (number | null)[];
	/** Registers the program uses in all. */
	registers: number;
	/** The register holding the result. */
	result: number;
}

/** What a variable stands for: the input at this position, or a constant value. */
export type Binding = { input: number } | { constant: number };

export const INSTRUCTION_WORDS = 5;

/** Registers are blocks of pixels in Wasm memory; this bounds the evaluator's working set. */
export const MAX_REGISTERS = 128;
/** Integer exponents up to this size become multiplications. */
const MAX_UNROLLED_EXPONENT = 16;

type Ref =
	| { kind: "input"; index: number }
	| { kind: "raw"; index: number }
	| { kind: "constant"; value: number }
	/** Constants in consecutive registers, named by the first. */
	| { kind: "constantRun"; values: number[] }
	| { kind: "temp"; index: number };

/** An operands slot holds p, q, r and k in the places of dst, a, b and c. */
type Instruction = { opcode: Opcode; dst: Ref; a: Ref; b: Ref | null; c: Ref | null };

const binaryOpcodes = { "+": opcodes.add, "-": opcodes.sub, "*": opcodes.mul, "/": opcodes.div } as const;
const comparisonOpcodes: Record<ComparisonOperator, Opcode> = {
	"<": opcodes.less,
	"<=": opcodes.lessOrEqual,
	">": opcodes.greater,
	">=": opcodes.greaterOrEqual,
	"==": opcodes.equal,
	"!=": opcodes.notEqual,
};
const bitwiseOpcodes: Record<BitwiseOperator, Opcode> = {
	"&": opcodes.bitAnd,
	"|": opcodes.bitOr,
	"<<": opcodes.shiftLeft,
	">>": opcodes.shiftRight,
};

/**
 * Compiles `root` for `inputs` inputs; `bind` resolves each variable (and throws a
 * FormulaError for a name it does not know).
 */
export function compileProgram(
	root: FormulaNode,
	inputs: number,
	bind: (variable: { name: string; position: number }) => Binding,
): Program {
	const bindings = new Map<string, Binding>();
	const constantValues: Record<string, number> = {};
	const resolve = (node: FormulaNode): void => {
		if (node.kind === "variable") {
			if (bindings.has(node.name)) return;
			const binding = bind(node);
			bindings.set(node.name, binding);
			if ("constant" in binding) constantValues[node.name] = binding.constant;
		}
		formulaChildren(node).forEach(resolve);
		// A named constant is a bitwise operand only when it is an integer, like a literal.
		if (!isBitwise(node)) return;
		for (const operand of formulaChildren(node)) {
			if (operand.kind !== "variable") continue;
			const binding = bindings.get(operand.name);
			if (binding && "constant" in binding && !Number.isInteger(binding.constant)) {
				throw new FormulaError(
					`bitwise operators take integers, not the constant '${operand.name}' = ${binding.constant}`,
					operand.position,
				);
			}
		}
	};
	resolve(root);

	const readsInput = (node: FormulaNode): boolean =>
		node.kind === "variable" ? "input" in (bindings.get(node.name) as Binding) : formulaChildren(node).some(readsInput);
	/** The inputs read raw: register inputs + i holds the raw samples of input rawOf[i]. */
	const rawOf: number[] = [];
	/** A bitwise operand: an input is read as its raw sample. */
	const integerOperand = (node: FormulaNode): Ref => {
		const binding = node.kind === "variable" ? bindings.get(node.name) : undefined;
		if (!binding || !("input" in binding)) return generate(node);
		let index = rawOf.indexOf(binding.input);
		if (index < 0) index = rawOf.push(binding.input) - 1;
		return { kind: "raw", index };
	};

	const instructions: Instruction[] = [];
	const freeTemps: number[] = [];
	let tempCount = 0;
	const allocate = (): Ref => ({ kind: "temp", index: freeTemps.pop() ?? tempCount++ });
	const release = (...refs: (Ref | null)[]): void => {
		for (const ref of refs) if (ref?.kind === "temp") freeTemps.push(ref.index);
	};
	const emit = (opcode: Opcode, a: Ref, b: Ref | null = null, c: Ref | null = null): Ref => {
		release(a, b, c);
		const dst = allocate();
		instructions.push({ opcode, dst, a, b, c });
		return dst;
	};
	const constant = (value: number): Ref => ({ kind: "constant", value: Math.fround(value) });

	/** x ** k for a constant k, as multiplications where k is a small integer. */
	const power = (base: Ref, exponent: number): Ref => {
		const magnitude = Math.abs(exponent);
		if (exponent === 0.5) return emit(opcodes.sqrt, base);
		if (!Number.isInteger(exponent) || magnitude < 1 || magnitude > MAX_UNROLLED_EXPONENT) {
			return emit(opcodes.pow, base, constant(exponent));
		}
		// Square-and-multiply; intermediate temporaries are freed only once the chain is done.
		const chain: Ref[] = [];
		const multiply = (a: Ref, b: Ref): Ref => {
			const dst = allocate();
			instructions.push({ opcode: opcodes.mul, dst, a, b, c: null });
			chain.push(dst);
			return dst;
		};
		let result: Ref | null = null;
		let square = base;
		for (let bits = magnitude; bits > 0; bits >>= 1) {
			if (bits & 1) result = result === null ? square : multiply(result, square);
			if (bits > 1) square = multiply(square, square);
		}
		const positive = result as Ref;
		release(...[base, ...chain].filter((ref) => ref !== positive));
		return exponent < 0 ? emit(opcodes.div, constant(1), positive) : positive;
	};

	const isArithmetic = (node: FormulaNode): node is FormulaNode & { kind: "binary"; operator: Arithmetic } =>
		node.kind === "binary" && node.operator !== "**" && readsInput(node);
	/**
	 * Which child each arithmetic node fuses with. Matching bottom-up, a node takes its first
	 * arithmetic child that has not fused with a child of its own, which on a tree fuses as many
	 * pairs as possible (EVI's eight operations become four instructions).
	 */
	const fusedSide = new Map<FormulaNode, "left" | "right">();
	const fused = new Set<FormulaNode>();
	const planFusion = (node: FormulaNode): void => {
		if (node.kind !== "binary") formulaChildren(node).forEach(planFusion);
		else {
			const difference = normalizedDifferenceOperands(node);
			const ratio = scaledRatioOperands(node, readsInput);
			if (difference || ratio) {
				(difference ?? ratio?.operands ?? []).forEach(planFusion);
				fused.add(node);
				return;
			}
			planFusion(node.left);
			planFusion(node.right);
			if (!isArithmetic(node)) return;
			const side = (["left", "right"] as const).find(
				(candidate) => isArithmetic(node[candidate]) && !fused.has(node[candidate]),
			);
			if (side) {
				fusedSide.set(node, side);
				fused.add(node);
			}
		}
	};
	planFusion(root);

	function generate(node: FormulaNode): Ref {
		if (!readsInput(node)) return constant(evaluateFormula(node, constantValues));
		switch (node.kind) {
			case "number":
				return constant(node.value);
			case "variable": {
				const binding = bindings.get(node.name) as { input: number };
				return { kind: "input", index: binding.input };
			}
			case "negate":
				return emit(opcodes.neg, generate(node.operand));
			case "not":
				return emit(opcodes.not, generate(node.operand));
			case "compare":
			case "logical": {
				const a = generate(node.left);
				const b = generate(node.right);
				const opcode = node.kind === "compare" ? comparisonOpcodes[node.operator] : opcodes[node.operator];
				return emit(opcode, a, b);
			}
			case "bitwise": {
				const a = integerOperand(node.left);
				return emit(bitwiseOpcodes[node.operator], a, integerOperand(node.right));
			}
			case "binary": {
				const difference = normalizedDifferenceOperands(node);
				if (difference) {
					const [a, b] = difference.map(generate) as [Ref, Ref];
					return emit(opcodes.normalizedDifference, a, b);
				}
				const ratio = scaledRatioOperands(node, readsInput);
				if (ratio) {
					const [a, b, p, q, r] = ratio.operands.map(generate) as [Ref, Ref, Ref, Ref, Ref];
					release(p, q, r);
					const [scale, ...run] = ratio.constants.map((constantNode) => evaluateFormula(constantNode, constantValues));
					instructions.push({
						opcode: opcodes.operands,
						dst: p,
						a: q,
						b: r,
						c: { kind: "constantRun", values: run.map((value) => Math.fround(value)) },
					});
					return emit(opcodes.scaledRatio, a, b, constant(scale as number));
				}
				const side = fusedSide.get(node);
				if (side && node.operator !== "**") {
					const inner = node[side] as FormulaNode & { kind: "binary"; operator: Arithmetic };
					const a = generate(inner.left);
					const b = generate(inner.right);
					const c = generate(side === "left" ? node.right : node.left);
					return emit(pairOpcode(inner.operator, node.operator, side === "right"), a, b, c);
				}
				if (node.operator === "**" && !readsInput(node.right)) {
					return power(generate(node.left), evaluateFormula(node.right, constantValues));
				}
				const a = generate(node.left);
				const b = generate(node.right);
				return emit(node.operator === "**" ? opcodes.pow : binaryOpcodes[node.operator], a, b);
			}
			case "call": {
				if (node.name === "bit") {
					const [x, n] = node.args as [FormulaNode, FormulaNode];
					const a = integerOperand(x);
					return emit(opcodes.bit, a, integerOperand(n));
				}
				const args = node.args.map(generate);
				const [first, second, third] = args as [Ref, Ref, Ref];
				switch (node.name) {
					case "min":
					case "max": {
						const opcode = opcodes[node.name];
						return args.slice(1).reduce((left, right) => emit(opcode, left, right), first);
					}
					case "clamp":
						return emit(opcodes.min, emit(opcodes.max, first, second), third);
					case "abs":
					case "sqrt":
					case "exp":
					case "log":
					case "tanh":
						return emit(opcodes[node.name], first);
					case "where":
						return emit(opcodes.where, first, second, third);
				}
			}
		}
	}

	const result = generate(root);

	// Register layout: inputs, their raw samples, then each distinct constant once, then the temporaries.
	const loaded = inputs + rawOf.length;
	const constants: number[] = [];
	const constantRegister = (value: number): number => {
		let at = constants.findIndex((existing) => Object.is(existing, value));
		if (at < 0) at = constants.push(value) - 1;
		return loaded + at;
	};
	/** Where each run starts: its values are laid out together, even where they repeat others. */
	const runStart = new Map<Ref, number>();
	for (const instruction of instructions) {
		for (const ref of [instruction.a, instruction.b, instruction.c]) {
			if (ref?.kind === "constant") constantRegister(ref.value);
			if (ref?.kind === "constantRun") runStart.set(ref, loaded + constants.push(...ref.values) - ref.values.length);
		}
	}
	if (result.kind === "constant") constantRegister(result.value);
	const registerOf = (ref: Ref): number => {
		if (ref.kind === "input") return ref.index;
		if (ref.kind === "raw") return inputs + ref.index;
		if (ref.kind === "constant") return constantRegister(ref.value);
		if (ref.kind === "constantRun") return runStart.get(ref) as number;
		return loaded + constants.length + ref.index;
	};
	const registers = loaded + constants.length + tempCount;
	if (registers > MAX_REGISTERS) {
		throw new FormulaError(
			`formula needs ${registers} registers (inputs, distinct numbers and intermediate values); at most ${MAX_REGISTERS} are available`,
			null,
		);
	}
	const code = instructions.flatMap(({ opcode, dst, a, b, c }) => [
		opcode,
		registerOf(dst),
		registerOf(a),
		b ? registerOf(b) : 0,
		c ? registerOf(c) : 0,
	]);
	return { code, inputs, rawOf, constants, registers, result: registerOf(result) };
}

/** The same formula, whatever the positions of its tokens. */
function sameFormula(a: FormulaNode, b: FormulaNode): boolean {
	if (a.kind !== b.kind) return false;
	// The kinds are equal, so b narrows as a does.
	if (a.kind === "number") return Object.is(a.value, (b as typeof a).value);
	if (a.kind === "variable") return a.name === (b as typeof a).name;
	if ("operator" in a && a.operator !== (b as typeof a).operator) return false;
	if (a.kind === "call" && a.name !== (b as typeof a).name) return false;
	const children = formulaChildren(a);
	const otherChildren = formulaChildren(b);
	return (
		children.length === otherChildren.length &&
		children.every((child, i) => sameFormula(child, otherChildren[i] as FormulaNode))
	);
}

/**
 * EVI's shape, k * (x - y) / (p + k0 * q - k1 * r + k2) with k, k0, k1 and k2 constant and the
 * products and the difference reading inputs (so none is folded): its operands [x, y, p, q, r]
 * and constants [k, k0, k1, k2], or null.
 */
function scaledRatioOperands(
	node: FormulaNode,
	readsInput: (node: FormulaNode) => boolean,
): { operands: [FormulaNode, FormulaNode, FormulaNode, FormulaNode, FormulaNode]; constants: FormulaNode[] } | null {
	const isBinary = (n: FormulaNode, operator: string): n is FormulaNode & { kind: "binary" } =>
		n.kind === "binary" && n.operator === operator;
	if (!isBinary(node, "/")) return null;
	const { left: scaled, right: sum } = node;
	if (!isBinary(scaled, "*") || !isBinary(scaled.right, "-") || !isBinary(sum, "+") || !isBinary(sum.left, "-")) {
		return null;
	}
	const near = sum.left.left;
	const far = sum.left.right;
	if (!isBinary(near, "+") || !isBinary(near.right, "*") || !isBinary(far, "*")) return null;
	const constants = [scaled.left, near.right.left, far.left, sum.right];
	const computed = [scaled.right, near.right, far];
	if (constants.some(readsInput) || !computed.every(readsInput)) return null;
	return { operands: [scaled.right.left, scaled.right.right, near.left, near.right.right, far.right], constants };
}

/** Whether the formula is a normalized difference at its root, (x - y) / (x + y). */
export function isNormalizedDifference(node: FormulaNode): boolean {
	return normalizedDifferenceOperands(node) !== null;
}

/** [x, y] when the node is (x - y) / (x + y) or (x - y) / (y + x); float32 addition commutes exactly. */
function normalizedDifferenceOperands(node: FormulaNode): [FormulaNode, FormulaNode] | null {
	if (node.kind !== "binary" || node.operator !== "/") return null;
	const { left, right } = node;
	if (left.kind !== "binary" || left.operator !== "-" || right.kind !== "binary" || right.operator !== "+") return null;
	const straight = sameFormula(left.left, right.left) && sameFormula(left.right, right.right);
	const swapped = sameFormula(left.left, right.right) && sameFormula(left.right, right.left);
	return straight || swapped ? [left.left, left.right] : null;
}
