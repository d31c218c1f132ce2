/**
 * A job's formula, from either a catalog index (with constant overrides) or a custom
 * expression over the job's inputs: parsed, checked against the inputs and compiled once, at
 * job creation, into the bytecode program stored with the job. Every problem is reported as a
 * 422 naming the field and, for formulas, the position of the offending token.
 */
import { ApiError, type FieldError } from "../errors/api-error";
import { type Binding, compileProgram, isNormalizedDifference, type Program } from "../formula/compile";
import { evaluateFormula } from "../formula/evaluate";
import {
	FormulaError,
	type FormulaNode,
	formulaChildren,
	formulaVariables,
	operandVariables,
	parseFormula,
} from "../formula/parse";
import { bandNameOfSymbol, bandNames, findIndex, indices, matchingIndexIds } from "./registry";

interface FormulaRequest {
	index?: string | undefined;
	expression?: string | undefined;
	constants?: Record<string, number> | undefined;
	/** The job's inputs; only their names matter here. */
	inputs: Record<string, unknown>;
	/** The mask names an input that the formula need not use (read for the mask alone). */
	mask?: { input: string } | undefined;
}

export interface CompiledFormula {
	/** The catalog id, or null for a custom expression. */
	index: string | null;
	/** The formula compiled, over the input names and constant names. */
	expression: string;
	/** Every constant's value as compiled, defaults included. */
	constants: Record<string, number>;
	/** Input names in the program's input order. */
	inputs: string[];
	program: Program;
	/** The values the preview's colours span unless the request rescales them, see previewRangeFor(). */
	previewRange: ValueRange;
	/**
	 * The constant terms the formula adds to terms of its inputs ("L = 1", "0.5"): they assume
	 * inputs scaled to reflectance, so over raw counts they make the index wrong without a sign.
	 */
	additiveConstants: string[];
	/**
	 * Inputs a bitwise operator or bit() reads as raw samples, which must be of an integer type
	 * (see bitwiseTypeProblem). Formulas stored before bitwise operators existed lack it: none.
	 */
	rawInputs: string[];
	/**
	 * Inputs a comparison, a bitwise operator or bit() reads directly: class or bit bands, which
	 * are resampled to the nearest sample by default. Formulas stored before comparisons existed
	 * lack it: none.
	 */
	comparedInputs: string[];
}

/** A range of output values, first < last. */
export interface ValueRange {
	first: number;
	last: number;
}

const UNIT_RANGE: ValueRange = { first: -1, last: 1 };
const RANGE_SAMPLES = 2048;
/**
 * Indices whose usual range is narrower than sampling independent bands suggests: EVI's
 * denominator only nears zero for band combinations real surfaces do not show.
 */
const KNOWN_RANGES: Record<string, ValueRange> = { EVI: UNIT_RANGE, EVI2: UNIT_RANGE };

/** Compiles the request's formula, or throws an ApiError (422) naming every field at fault. */
export function compileFormula(request: FormulaRequest): CompiledFormula {
	if (request.index !== undefined) return compileIndex(request.index, request);
	return compileExpression(request.expression ?? "", request);
}

function compileIndex(id: string, request: FormulaRequest): CompiledFormula {
	const index = findIndex(id);
	if (!index) throw unknownIndex(id);
	const inputErrors: FieldError[] = [];
	for (const band of index.bands) {
		if (!Object.hasOwn(request.inputs, band))
			inputErrors.push({ path: `inputs.${band}`, message: `required by ${index.id}` });
	}
	const uses = `${index.id} uses ${index.bands.join(", ")}`;
	for (const name of Object.keys(request.inputs)) {
		if (index.bands.includes(name) || name === request.mask?.input) continue;
		// The catalog's formulas say R and N; a reader of them names inputs so, and is shown the name.
		const common = bandNameOfSymbol(name);
		let message: string;
		if (common !== undefined) {
			const rename = index.bands.includes(common) ? `name the input '${common}'` : `${uses}, as STAC common names`;
			message = `'${name}' is the catalog's symbol for ${common}; ${rename}`;
		} else if (bandNames.includes(name))
			message = `${index.id} does not use ${name}; it uses ${index.bands.join(", ")}`;
		else message = `unknown band name '${name}'${suggestion(name, index.bands)} (${uses}, as STAC common names)`;
		inputErrors.push({ path: `inputs.${name}`, message });
	}
	if (inputErrors.length > 0) throw fieldErrors("invalid-inputs", inputErrors);

	const overrides = request.constants ?? {};
	const constantErrors: FieldError[] = [];
	const known = index.constants.map((constant) => constant.name);
	for (const name of Object.keys(overrides)) {
		if (known.includes(name)) continue;
		const takes = known.length > 0 ? `${index.id} takes ${known.join(", ")}` : `${index.id} takes no constants`;
		constantErrors.push({
			path: `constants.${name}`,
			message: `unknown constant '${name}'${suggestion(name, known)} (${takes})`,
		});
	}
	const values: Record<string, number> = {};
	for (const constant of index.constants) {
		const value = overrides[constant.name] ?? constant.default;
		if (value === null) {
			constantErrors.push({
				path: `constants.${constant.name}`,
				message: `${index.id} needs '${constant.name}' (${constant.description}), which has no default`,
			});
		} else values[constant.name] = value;
	}
	if (constantErrors.length > 0) throw fieldErrors("invalid-formula", constantErrors);

	const inputs = [...index.bands];
	const program = compileOrThrow(index.ast, inputs, values, "index");
	return {
		index: index.id,
		expression: index.formula,
		constants: values,
		inputs,
		program,
		previewRange: KNOWN_RANGES[index.id] ?? previewRangeFor(index.ast, inputs, values),
		additiveConstants: additiveConstants(index.ast, inputs, values),
		...inputOperands(index.ast, inputs),
	};
}

function compileExpression(expression: string, request: FormulaRequest): CompiledFormula {
	let ast: FormulaNode;
	try {
		ast = parseFormula(expression);
	} catch (error) {
		if (error instanceof FormulaError)
			throw fieldErrors("invalid-formula", [{ path: "expression", message: error.message }]);
		throw error;
	}
	const variables = formulaVariables(ast);
	const used = new Set(variables.map(({ name }) => name));
	// The mask's input is read for the mask; the formula reads it only when it names it.
	const inputs = Object.keys(request.inputs).filter((name) => name !== request.mask?.input || used.has(name));
	if (inputs.length === 0) {
		throw fieldErrors("invalid-inputs", [{ path: "inputs", message: "an expression needs at least one input" }]);
	}
	const values = { ...(request.constants ?? {}) };
	const unknown = variables.filter(({ name }) => !Object.hasOwn(request.inputs, name) && !Object.hasOwn(values, name));
	if (unknown.length > 0) {
		const names = [...inputs, ...Object.keys(values)];
		throw fieldErrors(
			"invalid-formula",
			unknown.map(({ name, position }) => ({
				path: "expression",
				message: `unknown variable '${name}' at ${position}${suggestion(name, names) || ` (the inputs are ${inputs.join(", ")})`}`,
			})),
		);
	}
	// An unused input would be read for nothing, and an unused constant is likely a typo.
	const unused: FieldError[] = [
		...inputs
			.filter((name) => !used.has(name))
			.map((name) => ({
				path: `inputs.${name}`,
				message: /^[A-Za-z_]\w*$/.test(name)
					? "not used by the expression"
					: "not used by the expression; input names must be letters, digits and _, not starting with a digit",
			})),
		...Object.keys(values)
			.filter((name) => !used.has(name))
			.map((name) => ({
				path: `constants.${name}`,
				message: Object.hasOwn(request.inputs, name) ? "is also an input name" : "not used by the expression",
			})),
	];
	if (unused.length > 0) throw fieldErrors("invalid-inputs", unused);
	const program = compileOrThrow(ast, inputs, values, "expression");
	return {
		index: null,
		expression,
		constants: values,
		inputs,
		program,
		previewRange: previewRangeFor(ast, inputs, values),
		additiveConstants: additiveConstants(ast, inputs, values),
		...inputOperands(ast, inputs),
	};
}

/** The inputs among the formula's raw and compared operands (constants are neither). */
function inputOperands(
	ast: FormulaNode,
	inputs: readonly string[],
): Pick<CompiledFormula, "rawInputs" | "comparedInputs"> {
	const { raw, compared } = operandVariables(ast);
	return {
		rawInputs: raw.filter((name) => inputs.includes(name)),
		comparedInputs: compared.filter((name) => inputs.includes(name)),
	};
}

/** GDAL's integer sample types (Byte, Int8 … UInt32), and the same in SampleType's spelling. */
const INTEGER_DATA_TYPE = /^(?:byte|u?int\d+)$/i;

/**
 * The 422 for a formula whose bitwise operators read an input that is not of an integer sample
 * type, or null when every such input is. `dataTypeOf` gives an input's sample type as GDAL
 * names it ("UInt16", "Float32"; SampleType's "uint16" works too). The validate stage calls it
 * once the inputs' files are read; a formula stored without `rawInputs` has none.
 */
export function bitwiseTypeProblem(
	formula: { rawInputs?: readonly string[] | undefined },
	dataTypeOf: (input: string) => string,
): ApiError | null {
	const errors: FieldError[] = [];
	for (const input of formula.rawInputs ?? []) {
		const dataType = dataTypeOf(input);
		if (INTEGER_DATA_TYPE.test(dataType)) continue;
		errors.push({
			path: `inputs.${input}`,
			message: `is ${dataType}; bitwise operators and bit() read raw samples of an integer band`,
		});
	}
	return errors.length === 0 ? null : fieldErrors("invalid-formula", errors);
}

function compileOrThrow(ast: FormulaNode, inputs: string[], values: Record<string, number>, path: string): Program {
	const bind = ({ name }: { name: string }): Binding => {
		const input = inputs.indexOf(name);
		return input >= 0 ? { input } : { constant: values[name] as number };
	};
	try {
		return compileProgram(ast, inputs.length, bind);
	} catch (error) {
		if (error instanceof FormulaError) throw fieldErrors("invalid-formula", [{ path, message: error.message }]);
		throw error;
	}
}

/**
 * The preview's colour range: [-1, 1] for a normalized difference, whose values always lie
 * there. Otherwise the formula's 1st to 99th percentile over reflectance-like inputs (each input
 * spread evenly over [0, 1], the job's constants), widened to round numbers; [-1, 1] when that
 * yields no range. The statistics do not depend on it.
 */
function previewRangeFor(ast: FormulaNode, inputs: readonly string[], values: Record<string, number>): ValueRange {
	if (isNormalizedDifference(ast)) return UNIT_RANGE;
	const alphas = spreadSequence(inputs.length);
	const samples: number[] = [];
	for (let i = 0; i < RANGE_SAMPLES; i++) {
		const point: Record<string, number> = { ...values };
		inputs.forEach((name, k) => {
			point[name] = (0.5 + (alphas[k] as number) * (i + 1)) % 1;
		});
		const value = evaluateFormula(ast, point);
		if (Number.isFinite(value)) samples.push(value);
	}
	samples.sort((a, b) => a - b);
	const low = samples[Math.floor(samples.length * 0.01)];
	const high = samples[Math.ceil(samples.length * 0.99) - 1];
	if (low === undefined || high === undefined || !(high > low)) return UNIT_RANGE;
	const step = 10 ** Math.floor(Math.log10(high - low));
	const round = (x: number) => Number(x.toPrecision(12));
	return { first: round(Math.floor(low / step) * step), last: round(Math.ceil(high / step) * step) };
}

/**
 * Constant terms added to (or subtracted from) a term of the inputs, anywhere in the formula:
 * SAVI's "+ L", EVI's "+ L" and "C1 * red" is not one (it scales an input). Named constants are
 * described with their value, other terms by their value.
 */
function additiveConstants(ast: FormulaNode, inputs: readonly string[], values: Record<string, number>): string[] {
	const usesInputs = (node: FormulaNode) => formulaVariables(node).some(({ name }) => inputs.includes(name));
	const found = new Set<string>();
	const visit = (node: FormulaNode): void => {
		if (node.kind === "binary" && (node.operator === "+" || node.operator === "-")) {
			for (const [term, other] of [
				[node.left, node.right],
				[node.right, node.left],
			] as const) {
				if (usesInputs(term) || !usesInputs(other)) continue;
				const value = evaluateFormula(term, values);
				if (value === 0 || !Number.isFinite(value)) continue;
				found.add(
					term.kind === "variable" ? `${term.name} = ${values[term.name]}` : String(Number(value.toPrecision(7))),
				);
			}
		}
		formulaChildren(node).forEach(visit);
	};
	visit(ast);
	return [...found];
}

function unknownIndex(id: string): ApiError {
	const matches = matchingIndexIds(id);
	const message =
		matches.length > 1
			? `'${id}' matches ${matches.join(" and ")}, which differ only in case; use the exact id`
			: `unknown index '${id}'${suggestion(id, [...indices.keys()])}`;
	return new ApiError("unknown-index", `${message}. GET /v1/indices lists the ${indices.size} indices.`, {
		errors: [{ path: "index", message }],
	});
}

function fieldErrors(code: "invalid-formula" | "invalid-inputs", errors: FieldError[]): ApiError {
	return new ApiError(code, errors.map((error) => `${error.path}: ${error.message}`).join("; "), { errors });
}

/** "; did you mean 'nir'?" for the closest candidate within a small edit distance, else "". */
function suggestion(name: string, candidates: readonly string[]): string {
	let best: string | null = null;
	let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
	for (const candidate of candidates) {
		const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
		if (distance < bestDistance) {
			best = candidate;
			bestDistance = distance;
		}
	}
	return best === null ? "" : `; did you mean '${best}'?`;
}

/** Damerau–Levenshtein distance (optimal string alignment), so 'nri' is one step from 'nir'. */
function editDistance(a: string, b: string): number {
	const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
	for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
	for (let i = 1; i <= a.length; i++) {
		const row = rows[i] as number[];
		const previous = rows[i - 1] as number[];
		for (let j = 1; j <= b.length; j++) {
			const cost = a[i - 1] === b[j - 1] ? 0 : 1;
			let best = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
				best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
			}
			row[j] = best;
		}
	}
	return (rows[a.length] as number[])[b.length] as number;
}

/**
 * The steps of Roberts' R-sequence in `dimensions` dimensions: point i is
 * (0.5 + alpha_k * i) mod 1 in each dimension k, evenly spread and the same on every run.
 */
function spreadSequence(dimensions: number): number[] {
	let phi = 2;
	for (let i = 0; i < 32; i++) phi = (1 + phi) ** (1 / (dimensions + 1));
	return Array.from({ length: dimensions }, (_, k) => (1 / phi) ** (k + 1) % 1);
}

/**
 * The formula a job stored at creation, or null when it has none; formulas stored before 0011
 * call the preview's range `histogram` and list no additive constants, and those stored before
 * conditions neither raw nor compared inputs.
 */
export function jobFormula(job: { formula: unknown }): CompiledFormula | null {
	const stored = job.formula as (CompiledFormula & { histogram?: ValueRange }) | null;
	if (!stored) return null;
	const { histogram, ...current } = stored;
	return {
		...current,
		previewRange: current.previewRange ?? histogram ?? UNIT_RANGE,
		additiveConstants: current.additiveConstants ?? [],
		rawInputs: current.rawInputs ?? [],
		comparedInputs: current.comparedInputs ?? [],
	};
}
