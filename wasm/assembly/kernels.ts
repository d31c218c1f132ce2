// Band-math kernels for EO Edge: one formula evaluator and the strip statistics. Every
// export is a pure function over pointers and lengths in the exported linear memory:
// src/wasm/kernels.ts lays buffers out after heap_base() and callers fill and read them in place.
// Nothing here allocates.

/** First byte of linear memory free for the caller's buffers. */
export function heap_base(): usize {
	return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// The formula evaluator: runs a bytecode program (src/formula/compile.ts) over n pixels.
// Registers are blocks of BLOCK pixels; each instruction runs over a whole block in f32x4
// lanes, so the cost of decoding an instruction is shared by BLOCK pixels.

/** Pixels per register block; 1 KiB a register keeps a program's registers in L1/L2 cache. */
const BLOCK: i32 = 256;
const BLOCK_BYTES: usize = (<usize>BLOCK) << 2;
/** Bytes of one register, so the caller can size the register file. */
export function register_bytes(): usize {
	return BLOCK_BYTES;
}

/** Pixels per pass of the two-input normalized difference, which needs no registers. */
const DIFFERENCE_BLOCK: i32 = 2048;

/** Bytes of four f32x4 vectors: every loop runs in steps of 16 pixels. */
const UNROLL_BYTES: usize = 64;
/** Five i32 words: opcode, dst, a, b, c. */
const INSTRUCTION_BYTES: usize = 20;
/** Bytes per input descriptor, see evaluate(). */
const INPUT_BYTES: usize = 32;

// Opcodes, as src/formula/compile.ts numbers them.
const OP_ADD = 1;
const OP_SUB = 2;
const OP_MUL = 3;
const OP_DIV = 4;
const OP_MIN = 5;
const OP_MAX = 6;
const OP_POW = 7;
const OP_NEG = 8;
const OP_ABS = 9;
const OP_SQRT = 10;
const OP_EXP = 11;
const OP_LOG = 12;
const OP_TANH = 13;
const OP_NORMALIZED_DIFFERENCE = 14;
// Comparisons, logic and where give 1 or 0, and NaN where an operand (a condition) is NaN.
const OP_LESS = 15;
const OP_LESS_OR_EQUAL = 16;
const OP_GREATER = 17;
const OP_GREATER_OR_EQUAL = 18;
const OP_EQUAL = 19;
const OP_NOT_EQUAL = 20;
const OP_AND = 21;
const OP_OR = 22;
const OP_NOT = 23;
/** b where a is non-zero, c where it is zero. */
const OP_WHERE = 24;
// Bitwise operations on the operands truncated to i32 (saturating); NaN in, NaN out.
const OP_BIT_AND = 25;
const OP_BIT_OR = 26;
const OP_SHIFT_LEFT = 27;
const OP_SHIFT_RIGHT = 28;
/** (a >> b) & 1. */
const OP_BIT = 29;
/**
 * OP_PAIR + (first * 4 + second) * 2 + swapped, with first and second 0 (add), 1 (sub),
 * 2 (mul) or 3 (div): second(first(a, b), c), or second(c, first(a, b)) when swapped.
 */
const OP_PAIR = 32;
/**
 * A prefix slot: opcode, then four more operands (p, q, r, k) of the instruction after it, which
 * runs with them. That instruction is always the scaled ratio (opcode 65, checked by
 * src/wasm/kernels.ts): (c * (a - b)) / (((p + k0 * q) - k1 * r) + k2) in one pass (EVI's shape),
 * each operation rounded as on its own; c and k0, k1, k2 (registers k, k + 1, k + 2) are
 * constants, read once a pass from their first lane.
 */
const OP_OPERANDS = 64;

// Sample type codes, as src/wasm/kernels.ts numbers them.
const SAMPLE_U8: u32 = 1;
const SAMPLE_I8: u32 = 2;
const SAMPLE_U16: u32 = 3;
const SAMPLE_I16: u32 = 4;
const SAMPLE_U32: u32 = 5;
const SAMPLE_I32: u32 = 6;
const SAMPLE_F32: u32 = 7;
const SAMPLE_F64: u32 = 8;

/**
 * out[i] = program(inputs at i) for i in [0, n), as float32; NaN where an input is nodata,
 * NaN or infinite, or the result is NaN or infinite.
 *
 * `code` holds `code_words` int32 words, five per instruction: opcode, dst, a, b, c (register
 * numbers; the last instruction's dst is the result, written to `out`, and `result_register`
 * only matters for a program without instructions). `inputs` holds `input_count` descriptors
 * of INPUT_BYTES bytes: u32 data pointer, u32 sample type, u32 has_nodata, u32 unused, f64
 * nodata, f32 scale, f32 offset; an input's value is raw * scale + offset and it is loaded
 * into register i. `constants` holds
 * `constant_count` f32 values for the registers after the inputs. `registers` has room for
 * every register the program uses. Inputs are read, and `out` written, in steps of 16 pixels:
 * both need up to 15 elements of slack after n. With `stats` not 0, each block of output is added
 * to that statistics record (see accumulate) while it is in cache. Nothing is allocated.
 */
export function evaluate(
	code: usize,
	code_words: i32,
	inputs: usize,
	input_count: i32,
	constants: usize,
	constant_count: i32,
	result_register: i32,
	registers: usize,
	out: usize,
	n: i32,
	stats: usize,
): void {
	// A program that is one normalized difference of its two inputs (NDVI, NDWI, NBR, … over
	// bands of one sample type) skips the registers; `npm run bench` shows what this is worth.
	if (code_words === 5 && input_count === 2 && load<i32>(code) === OP_NORMALIZED_DIFFERENCE) {
		const a = load<i32>(code, 8);
		const b = load<i32>(code, 12);
		const inputA = inputs + <usize>a * INPUT_BYTES;
		const inputB = inputs + <usize>b * INPUT_BYTES;
		if (a + b === 1 && load<u32>(inputA, 4) === load<u32>(inputB, 4)) {
			for (let start = 0; start < n; start += DIFFERENCE_BLOCK) {
				const count = min(DIFFERENCE_BLOCK, n - start);
				const target = out + ((<usize>start) << 2);
				differenceOfInputs(inputA, inputB, start, target, count);
				if (stats !== 0) accumulate(target, count, stats);
			}
			return;
		}
	}
	for (let c = 0; c < constant_count; c++) {
		const value = f32x4.splat(load<f32>(constants + ((<usize>c) << 2)));
		const register = registers + <usize>(input_count + c) * BLOCK_BYTES;
		for (let o: usize = 0; o < BLOCK_BYTES; o += 16) v128.store(register + o, value);
	}
	const result = registers + <usize>result_register * BLOCK_BYTES;
	const codeEnd = code + ((<usize>code_words) << 2);
	for (let start = 0; start < n; start += BLOCK) {
		const count = min(BLOCK, n - start);
		const bytes = (<usize>(count + 15) >> 4) << 6;
		for (let i = 0; i < input_count; i++) {
			loadInput(inputs + <usize>i * INPUT_BYTES, start, bytes, registers + <usize>i * BLOCK_BYTES);
		}
		const target = out + ((<usize>start) << 2);
		for (let at = code; at < codeEnd; at += INSTRUCTION_BYTES) {
			if (load<i32>(at) === OP_OPERANDS) {
				at = runWithOperands(at, at + INSTRUCTION_BYTES === codeEnd - INSTRUCTION_BYTES, registers, target, bytes);
				continue;
			}
			const last = at + INSTRUCTION_BYTES === codeEnd;
			const dst = last ? target : registers + <usize>load<i32>(at, 4) * BLOCK_BYTES;
			const a = registers + <usize>load<i32>(at, 8) * BLOCK_BYTES;
			const b = registers + <usize>load<i32>(at, 12) * BLOCK_BYTES;
			const c = registers + <usize>load<i32>(at, 16) * BLOCK_BYTES;
			run(load<i32>(at), last, dst, a, b, c, bytes);
		}
		// A program without instructions returns an input or a constant as it is.
		if (code_words === 0) {
			for (let o: usize = 0; o < bytes; o += 16) v128.store(target + o, Lanes.finish(true, v128.load(result + o)));
		}
		if (stats !== 0) accumulate(target, count, stats);
	}
}

// One instruction over `bytes` bytes of its registers. Elementwise, so dst may alias a or b.
// The last instruction of a program writes the output itself (`last`), with non-finite lanes
// made NaN, which saves a pass over the block.
function run(op: i32, last: bool, dst: usize, a: usize, b: usize, c: usize, bytes: usize): void {
	if (op >= OP_PAIR) {
		runPair(op, last, dst, a, b, c, bytes);
		return;
	}
	if (op >= OP_LESS) {
		runMasking(op, last, dst, a, b, c, bytes);
		return;
	}
	switch (op) {
		case OP_ADD:
			if (last) Lanes.binaryLoop(OP_ADD, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_ADD, false, dst, a, b, bytes);
			break;
		case OP_SUB:
			if (last) Lanes.binaryLoop(OP_SUB, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_SUB, false, dst, a, b, bytes);
			break;
		case OP_MUL:
			if (last) Lanes.binaryLoop(OP_MUL, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_MUL, false, dst, a, b, bytes);
			break;
		case OP_DIV:
			if (last) Lanes.binaryLoop(OP_DIV, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_DIV, false, dst, a, b, bytes);
			break;
		case OP_MIN:
			if (last) Lanes.binaryLoop(OP_MIN, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_MIN, false, dst, a, b, bytes);
			break;
		case OP_MAX:
			if (last) Lanes.binaryLoop(OP_MAX, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_MAX, false, dst, a, b, bytes);
			break;
		case OP_POW:
			if (last) Lanes.binaryLoop(OP_POW, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_POW, false, dst, a, b, bytes);
			break;
		case OP_NORMALIZED_DIFFERENCE:
			if (last) Lanes.binaryLoop(OP_NORMALIZED_DIFFERENCE, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_NORMALIZED_DIFFERENCE, false, dst, a, b, bytes);
			break;
		case OP_NEG:
			if (last) Lanes.unaryLoop(OP_NEG, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_NEG, false, dst, a, bytes);
			break;
		case OP_ABS:
			if (last) Lanes.unaryLoop(OP_ABS, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_ABS, false, dst, a, bytes);
			break;
		case OP_SQRT:
			if (last) Lanes.unaryLoop(OP_SQRT, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_SQRT, false, dst, a, bytes);
			break;
		case OP_EXP:
			if (last) Lanes.unaryLoop(OP_EXP, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_EXP, false, dst, a, bytes);
			break;
		case OP_LOG:
			if (last) Lanes.unaryLoop(OP_LOG, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_LOG, false, dst, a, bytes);
			break;
		case OP_TANH:
			if (last) Lanes.unaryLoop(OP_TANH, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_TANH, false, dst, a, bytes);
			break;
		default:
			unreachable();
	}
}

// An OP_OPERANDS slot at `prefix` and the instruction after it, which it gives its operands p, q, r
// and k; returns the address of that instruction, the last one run. Apart from run() so that the
// loop every other instruction runs stays as it was.
function runWithOperands(prefix: usize, last: bool, registers: usize, target: usize, bytes: usize): usize {
	const at = prefix + INSTRUCTION_BYTES;
	const dst = last ? target : registers + <usize>load<i32>(at, 4) * BLOCK_BYTES;
	const a = registers + <usize>load<i32>(at, 8) * BLOCK_BYTES;
	const b = registers + <usize>load<i32>(at, 12) * BLOCK_BYTES;
	const c = registers + <usize>load<i32>(at, 16) * BLOCK_BYTES;
	const p = registers + <usize>load<i32>(prefix, 4) * BLOCK_BYTES;
	const q = registers + <usize>load<i32>(prefix, 8) * BLOCK_BYTES;
	const r = registers + <usize>load<i32>(prefix, 12) * BLOCK_BYTES;
	const k = registers + <usize>load<i32>(prefix, 16) * BLOCK_BYTES;
	if (last) Lanes.scaledRatioLoop(true, dst, a, b, c, p, q, r, k, bytes);
	else Lanes.scaledRatioLoop(false, dst, a, b, c, p, q, r, k, bytes);
	return at;
}

// An instruction of masks and conditions (comparisons, logic, where, bitwise), in a function of
// its own so that run(), which every arithmetic instruction goes through, stays as small as it was.
function runMasking(op: i32, last: bool, dst: usize, a: usize, b: usize, c: usize, bytes: usize): void {
	switch (op) {
		case OP_LESS:
			if (last) Lanes.binaryLoop(OP_LESS, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_LESS, false, dst, a, b, bytes);
			break;
		case OP_LESS_OR_EQUAL:
			if (last) Lanes.binaryLoop(OP_LESS_OR_EQUAL, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_LESS_OR_EQUAL, false, dst, a, b, bytes);
			break;
		case OP_GREATER:
			if (last) Lanes.binaryLoop(OP_GREATER, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_GREATER, false, dst, a, b, bytes);
			break;
		case OP_GREATER_OR_EQUAL:
			if (last) Lanes.binaryLoop(OP_GREATER_OR_EQUAL, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_GREATER_OR_EQUAL, false, dst, a, b, bytes);
			break;
		case OP_EQUAL:
			if (last) Lanes.binaryLoop(OP_EQUAL, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_EQUAL, false, dst, a, b, bytes);
			break;
		case OP_NOT_EQUAL:
			if (last) Lanes.binaryLoop(OP_NOT_EQUAL, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_NOT_EQUAL, false, dst, a, b, bytes);
			break;
		case OP_AND:
			if (last) Lanes.binaryLoop(OP_AND, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_AND, false, dst, a, b, bytes);
			break;
		case OP_OR:
			if (last) Lanes.binaryLoop(OP_OR, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_OR, false, dst, a, b, bytes);
			break;
		case OP_BIT_AND:
			if (last) Lanes.binaryLoop(OP_BIT_AND, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_BIT_AND, false, dst, a, b, bytes);
			break;
		case OP_BIT_OR:
			if (last) Lanes.binaryLoop(OP_BIT_OR, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_BIT_OR, false, dst, a, b, bytes);
			break;
		case OP_SHIFT_LEFT:
			if (last) Lanes.binaryLoop(OP_SHIFT_LEFT, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_SHIFT_LEFT, false, dst, a, b, bytes);
			break;
		case OP_SHIFT_RIGHT:
			if (last) Lanes.binaryLoop(OP_SHIFT_RIGHT, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_SHIFT_RIGHT, false, dst, a, b, bytes);
			break;
		case OP_BIT:
			if (last) Lanes.binaryLoop(OP_BIT, true, dst, a, b, bytes);
			else Lanes.binaryLoop(OP_BIT, false, dst, a, b, bytes);
			break;
		case OP_NOT:
			if (last) Lanes.unaryLoop(OP_NOT, true, dst, a, bytes);
			else Lanes.unaryLoop(OP_NOT, false, dst, a, bytes);
			break;
		case OP_WHERE:
			if (last) Lanes.ternaryLoop(OP_WHERE, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_WHERE, false, dst, a, b, c, bytes);
			break;
		default:
			unreachable();
	}
}

// A pair instruction (see OP_PAIR); one case per opcode, so each loop is straight-line.
function runPair(op: i32, last: bool, dst: usize, a: usize, b: usize, c: usize, bytes: usize): void {
	switch (op) {
		case OP_PAIR + 0:
			if (last) Lanes.ternaryLoop(OP_PAIR + 0, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 0, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 1:
			if (last) Lanes.ternaryLoop(OP_PAIR + 1, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 1, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 2:
			if (last) Lanes.ternaryLoop(OP_PAIR + 2, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 2, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 3:
			if (last) Lanes.ternaryLoop(OP_PAIR + 3, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 3, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 4:
			if (last) Lanes.ternaryLoop(OP_PAIR + 4, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 4, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 5:
			if (last) Lanes.ternaryLoop(OP_PAIR + 5, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 5, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 6:
			if (last) Lanes.ternaryLoop(OP_PAIR + 6, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 6, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 7:
			if (last) Lanes.ternaryLoop(OP_PAIR + 7, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 7, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 8:
			if (last) Lanes.ternaryLoop(OP_PAIR + 8, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 8, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 9:
			if (last) Lanes.ternaryLoop(OP_PAIR + 9, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 9, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 10:
			if (last) Lanes.ternaryLoop(OP_PAIR + 10, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 10, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 11:
			if (last) Lanes.ternaryLoop(OP_PAIR + 11, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 11, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 12:
			if (last) Lanes.ternaryLoop(OP_PAIR + 12, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 12, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 13:
			if (last) Lanes.ternaryLoop(OP_PAIR + 13, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 13, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 14:
			if (last) Lanes.ternaryLoop(OP_PAIR + 14, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 14, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 15:
			if (last) Lanes.ternaryLoop(OP_PAIR + 15, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 15, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 16:
			if (last) Lanes.ternaryLoop(OP_PAIR + 16, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 16, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 17:
			if (last) Lanes.ternaryLoop(OP_PAIR + 17, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 17, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 18:
			if (last) Lanes.ternaryLoop(OP_PAIR + 18, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 18, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 19:
			if (last) Lanes.ternaryLoop(OP_PAIR + 19, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 19, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 20:
			if (last) Lanes.ternaryLoop(OP_PAIR + 20, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 20, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 21:
			if (last) Lanes.ternaryLoop(OP_PAIR + 21, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 21, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 22:
			if (last) Lanes.ternaryLoop(OP_PAIR + 22, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 22, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 23:
			if (last) Lanes.ternaryLoop(OP_PAIR + 23, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 23, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 24:
			if (last) Lanes.ternaryLoop(OP_PAIR + 24, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 24, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 25:
			if (last) Lanes.ternaryLoop(OP_PAIR + 25, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 25, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 26:
			if (last) Lanes.ternaryLoop(OP_PAIR + 26, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 26, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 27:
			if (last) Lanes.ternaryLoop(OP_PAIR + 27, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 27, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 28:
			if (last) Lanes.ternaryLoop(OP_PAIR + 28, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 28, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 29:
			if (last) Lanes.ternaryLoop(OP_PAIR + 29, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 29, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 30:
			if (last) Lanes.ternaryLoop(OP_PAIR + 30, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 30, false, dst, a, b, c, bytes);
			break;
		case OP_PAIR + 31:
			if (last) Lanes.ternaryLoop(OP_PAIR + 31, true, dst, a, b, c, bytes);
			else Lanes.ternaryLoop(OP_PAIR + 31, false, dst, a, b, c, bytes);
			break;
		default:
			unreachable();
	}
}

/**
 * (a - b) / (a + b) of two inputs straight to `out` in one pass: no registers, and the
 * division overlaps the conversions. Both inputs have one sample type.
 */
function differenceOfInputs(a: usize, b: usize, start: i32, out: usize, n: i32): void {
	const type = load<u32>(a, 4);
	const scaled = isScaled(a) || isScaled(b);
	if (scaled) {
		if (type === SAMPLE_U16) Lanes.differenceLoop(SAMPLE_U16, true, a, b, start, out, n);
		else if (type === SAMPLE_F32) Lanes.differenceLoop(SAMPLE_F32, true, a, b, start, out, n);
		else if (type === SAMPLE_I16) Lanes.differenceLoop(SAMPLE_I16, true, a, b, start, out, n);
		else if (type === SAMPLE_U8) Lanes.differenceLoop(SAMPLE_U8, true, a, b, start, out, n);
		else if (type === SAMPLE_I8) Lanes.differenceLoop(SAMPLE_I8, true, a, b, start, out, n);
		else if (type === SAMPLE_U32) Lanes.differenceLoop(SAMPLE_U32, true, a, b, start, out, n);
		else if (type === SAMPLE_I32) Lanes.differenceLoop(SAMPLE_I32, true, a, b, start, out, n);
		else Lanes.differenceLoop(SAMPLE_F64, true, a, b, start, out, n);
	} else {
		if (type === SAMPLE_U16) Lanes.differenceLoop(SAMPLE_U16, false, a, b, start, out, n);
		else if (type === SAMPLE_F32) Lanes.differenceLoop(SAMPLE_F32, false, a, b, start, out, n);
		else if (type === SAMPLE_I16) Lanes.differenceLoop(SAMPLE_I16, false, a, b, start, out, n);
		else if (type === SAMPLE_U8) Lanes.differenceLoop(SAMPLE_U8, false, a, b, start, out, n);
		else if (type === SAMPLE_I8) Lanes.differenceLoop(SAMPLE_I8, false, a, b, start, out, n);
		else if (type === SAMPLE_U32) Lanes.differenceLoop(SAMPLE_U32, false, a, b, start, out, n);
		else if (type === SAMPLE_I32) Lanes.differenceLoop(SAMPLE_I32, false, a, b, start, out, n);
		else Lanes.differenceLoop(SAMPLE_F64, false, a, b, start, out, n);
	}
}

function isScaled(input: usize): bool {
	return load<f32>(input, 24) !== 1 || load<f32>(input, 28) !== 0;
}

/**
 * Converts `bytes / 4` samples of one input, from pixel `start`, to f32 in `register`:
 * raw * scale + offset, or NaN where the raw sample equals nodata (compared in the sample's
 * own type, as GDAL does) or is not finite. One loop per sample type keeps the hot loop free
 * of type branches.
 */
function loadInput(input: usize, start: i32, bytes: usize, register: usize): void {
	const type = load<u32>(input, 4);
	// Most inputs are unscaled: skipping the multiply-add there is worth a second loop.
	const scaled = isScaled(input);
	if (scaled) {
		if (type === SAMPLE_U16) Lanes.inputLoop(SAMPLE_U16, true, input, start, bytes, register);
		else if (type === SAMPLE_F32) Lanes.inputLoop(SAMPLE_F32, true, input, start, bytes, register);
		else if (type === SAMPLE_I16) Lanes.inputLoop(SAMPLE_I16, true, input, start, bytes, register);
		else if (type === SAMPLE_U8) Lanes.inputLoop(SAMPLE_U8, true, input, start, bytes, register);
		else if (type === SAMPLE_I8) Lanes.inputLoop(SAMPLE_I8, true, input, start, bytes, register);
		else if (type === SAMPLE_U32) Lanes.inputLoop(SAMPLE_U32, true, input, start, bytes, register);
		else if (type === SAMPLE_I32) Lanes.inputLoop(SAMPLE_I32, true, input, start, bytes, register);
		else Lanes.inputLoop(SAMPLE_F64, true, input, start, bytes, register);
	} else {
		if (type === SAMPLE_U16) Lanes.inputLoop(SAMPLE_U16, false, input, start, bytes, register);
		else if (type === SAMPLE_F32) Lanes.inputLoop(SAMPLE_F32, false, input, start, bytes, register);
		else if (type === SAMPLE_I16) Lanes.inputLoop(SAMPLE_I16, false, input, start, bytes, register);
		else if (type === SAMPLE_U8) Lanes.inputLoop(SAMPLE_U8, false, input, start, bytes, register);
		else if (type === SAMPLE_I8) Lanes.inputLoop(SAMPLE_I8, false, input, start, bytes, register);
		else if (type === SAMPLE_U32) Lanes.inputLoop(SAMPLE_U32, false, input, start, bytes, register);
		else if (type === SAMPLE_I32) Lanes.inputLoop(SAMPLE_I32, false, input, start, bytes, register);
		else Lanes.inputLoop(SAMPLE_F64, false, input, start, bytes, register);
	}
}

/**
 * Four samples at `at` as f32, scaled, and NaN where nodata or not finite. An all-ones lane
 * is a NaN, so OR-ing in a comparison mask marks a lane invalid in one instruction.
 */

// ---------------------------------------------------------------------------------------------
// exp, log, tanh and pow over f32x4 lanes. Each runs in f64x2 halves and rounds once to f32, so
// results are the correctly rounded float32 of the true value but for rare near-ties: formulas
// that cancel after an exp (kNDVI's 1 - k) then agree with Math.fround(Math.exp(x)) too.
// Special cases follow Math; NaN in, NaN out.

const LN2_HIGH: f64 = 0.69314718036912382;
const LN2_LOW: f64 = 1.9082149292705877e-10;

const WIDE_EXP = 0;
const WIDE_LOG = 1;
const WIDE_TANH = 2;

function exp4(x: v128): v128 {
	return Lanes.inHalves(x, WIDE_EXP);
}

function log4(x: v128): v128 {
	return Lanes.inHalves(x, WIDE_LOG);
}

function tanh4(x: v128): v128 {
	return Lanes.inHalves(x, WIDE_TANH);
}

/** e^x in f64 lanes to about 1e-15 relative; inputs beyond ±200 saturate (f32 gives 0 or Infinity). */
function exp2d(x: v128): v128 {
	// min and max keep NaN, which then flows through the polynomial.
	const clamped = f64x2.max(f64x2.min(x, f64x2.splat(200.0)), f64x2.splat(-200.0));
	const n = f64x2.nearest(f64x2.mul(clamped, f64x2.splat(Math.LOG2E)));
	const r = f64x2.sub(f64x2.sub(clamped, f64x2.mul(n, f64x2.splat(LN2_HIGH))), f64x2.mul(n, f64x2.splat(LN2_LOW)));
	// Taylor series to r^11 / 11!: |r| <= ln(2) / 2 leaves an error below 1e-15.
	let p = f64x2.splat(1.0 / 39916800.0);
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 3628800.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 362880.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 40320.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 5040.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 720.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 120.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 24.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 6.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(0.5));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
	p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0));
	// 2^n from its exponent bits; |n| <= 289 stays normal in f64.
	const whole = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(n));
	return f64x2.mul(p, i64x2.shl(i64x2.add(whole, i64x2.splat(1023)), 52));
}

/** ln x in f64 lanes to about 1e-15 relative (every f32, subnormals too, is normal in f64). */
function log2d(x: v128): v128 {
	// x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
	let e = i64x2.sub(i64x2.shr_u(x, 52), i64x2.splat(1023));
	let m = v128.or(v128.and(x, i64x2.splat(0x000fffffffffffff)), i64x2.splat(0x3ff0000000000000));
	const large = f64x2.gt(m, f64x2.splat(Math.SQRT2));
	m = v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, large);
	e = i64x2.sub(e, large);
	// ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172: the series to s^17 suffices.
	const s = f64x2.div(f64x2.sub(m, f64x2.splat(1.0)), f64x2.add(m, f64x2.splat(1.0)));
	const z = f64x2.mul(s, s);
	let p = f64x2.splat(2.0 / 17.0);
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 15.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 13.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 11.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 9.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 7.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 5.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0 / 3.0));
	p = f64x2.add(f64x2.mul(p, z), f64x2.splat(2.0));
	const exponent = f64x2.convert_low_i32x4_s(i32x4.shuffle(e, e, 0, 2, 0, 2));
	let result = f64x2.add(f64x2.mul(p, s), f64x2.mul(exponent, f64x2.splat(LN2_HIGH + LN2_LOW)));
	// log(0) = -Infinity, log(Infinity) = Infinity, log(negative or NaN) = NaN.
	result = v128.bitselect(f64x2.splat(-Infinity), result, f64x2.eq(x, f64x2.splat(0.0)));
	result = v128.bitselect(x, result, f64x2.eq(x, f64x2.splat(Infinity)));
	return v128.bitselect(result, f64x2.splat(NaN), f64x2.ge(x, f64x2.splat(0.0)));
}

/** tanh x in f64 lanes: 1 - 2 / (e^2|x| + 1) with x's sign, and x (1 - x^2 / 3) near zero. */
function tanh2d(x: v128): v128 {
	const magnitude = f64x2.abs(x);
	const e = exp2d(f64x2.add(magnitude, magnitude));
	const far = f64x2.sub(f64x2.splat(1.0), f64x2.div(f64x2.splat(2.0), f64x2.add(e, f64x2.splat(1.0))));
	const signed = v128.or(far, v128.and(x, i64x2.splat(0x8000000000000000)));
	const near = f64x2.mul(x, f64x2.sub(f64x2.splat(1.0), f64x2.div(f64x2.mul(x, x), f64x2.splat(3.0))));
	return v128.bitselect(near, signed, f64x2.lt(magnitude, f64x2.splat(0.0009765625)));
}

/** a ** b as Math.pow, but NaN for a NaN base (also when b is 0). */
function pow4(a: v128, b: v128): v128 {
	const magnitude = i32x4.shuffle(
		f32x4.demote_f64x2_zero(powHalf(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b))),
		f32x4.demote_f64x2_zero(
			powHalf(
				f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)),
				f64x2.promote_low_f32x4(i32x4.shuffle(b, b, 2, 3, 0, 1)),
			),
		),
		0,
		1,
		4,
		5,
	);
	// A negative base has a real power only for an integer exponent, negative when it is odd.
	const integer = f32x4.eq(f32x4.nearest(b), b);
	const halfB = f32x4.mul(b, f32x4.splat(0.5));
	const odd = v128.andnot(integer, f32x4.eq(f32x4.nearest(halfB), halfB));
	const negativeBase = f32x4.lt(a, f32x4.splat(0.0));
	let result = v128.bitselect(f32x4.neg(magnitude), magnitude, v128.and(negativeBase, odd));
	result = v128.bitselect(f32x4.splat(NaN), result, v128.andnot(negativeBase, integer));
	// x ** 0 is 1 for every x but NaN.
	return v128.bitselect(f32x4.splat(1.0), result, v128.and(f32x4.eq(b, f32x4.splat(0.0)), f32x4.eq(a, a)));
}

/** |a| ** b in f64 lanes. */
function powHalf(a: v128, b: v128): v128 {
	return exp2d(f64x2.mul(b, log2d(f64x2.abs(a))));
}

// ---------------------------------------------------------------------------------------------
// Window statistics, gathered while the evaluator's output is still in cache: count, min, max,
// sums shifted by the window's first valid value (so the variance keeps its digits), a quantile
// sketch and, when asked for, a histogram over fixed edges. The output holds finite values or
// NaN (nodata) only; the evaluator makes every other result NaN.
//
// The statistics record, laid out by src/wasm/kernels.ts (byte offsets):
//   0 f64 count of valid values        8 f64 shift (NaN until the first valid value)
//  16 f64 sum of (v - shift)          24 f64 sum of (v - shift)^2
//  32 f64 min (+Infinity while none)  40 f64 max (-Infinity while none)
//  52 u32 histogram counts (bins + 2), 0 for none
//  56 i32 bins                        64 f64 first edge    72 f64 last edge
//
// The sketch counts values by their float32 bits' top 16: sign, exponent and 7 mantissa bits,
// so a key's values lie within 2^-7 of each other, relative to the smaller (log-linear buckets,
// as DDSketch's bitwise mapping). Keys with an all-ones exponent (NaN, infinities) collect the
// NaN lanes the loop counts without a branch; sketch_take drops them. Each lane of a vector
// counts into its own table, so neighbouring pixels, which often share a key, never wait on
// each other's increment. The tables are static data: at fixed addresses, each increment is one
// load and one store with the table in the instruction's offset.

/** Keys of one sketch table, and its bytes. */
const SKETCH_KEYS: i32 = 65536;
const SKETCH_TABLE_BYTES: usize = (<usize>SKETCH_KEYS) << 2;
/** The four tables, one after the other. */
const SKETCH_TABLE_0: usize = memory.data(4 * 65536 * 4, 16);
const SKETCH_TABLE_1: usize = SKETCH_TABLE_0 + SKETCH_TABLE_BYTES;
const SKETCH_TABLE_2: usize = SKETCH_TABLE_1 + SKETCH_TABLE_BYTES;
const SKETCH_TABLE_3: usize = SKETCH_TABLE_2 + SKETCH_TABLE_BYTES;
/** Bytes of the statistics record. */
export function stats_record_bytes(): usize {
	return 80;
}

/**
 * Adds the values[0..n) to the statistics record `stats` (see above). Two vectors at a time, then
 * the last values one at a time.
 */
function accumulate(values: usize, n: i32, stats: usize): void {
	let shift = load<f64>(stats, 8);
	if (F64.isNaN(shift)) {
		for (let i = 0; i < n; i++) {
			const v = load<f32>(values + ((<usize>i) << 2));
			if (!F32.isNaN(v)) {
				shift = <f64>v;
				break;
			}
		}
		// No valid value yet: nothing to count but NaN, which the sketch drops anyway.
		if (F64.isNaN(shift)) return;
		store<f64>(stats, shift, 8);
	}
	const shiftLanes = f32x4.splat(<f32>shift);
	const shiftWide = f64x2.splat(shift);
	let countVec = i32x4.splat(0);
	let minVec = f32x4.splat(Infinity);
	let maxVec = f32x4.splat(-Infinity);
	let sumLow = f64x2.splat(0);
	let sumHigh = f64x2.splat(0);
	let squaresLow = f64x2.splat(0);
	let squaresHigh = f64x2.splat(0);
	const vectorEnd = n & ~7;
	for (let i = 0; i < vectorEnd; i += 8) {
		const at = values + ((<usize>i) << 2);
		const v = v128.load(at);
		const w = v128.load(at, 16);
		const validV = f32x4.eq(v, v);
		const validW = f32x4.eq(w, w);
		countVec = i32x4.sub(i32x4.sub(countVec, validV), validW);
		// pmin(a, b) is b < a ? b : a, so a NaN lane never replaces the running extreme.
		minVec = f32x4.pmin(f32x4.pmin(minVec, v), w);
		maxVec = f32x4.pmax(f32x4.pmax(maxVec, v), w);
		// An invalid lane takes the shift's value, whose deviation is exactly zero.
		const keptV = v128.bitselect(v, shiftLanes, validV);
		const keptW = v128.bitselect(w, shiftLanes, validW);
		const v0 = f64x2.sub(f64x2.promote_low_f32x4(keptV), shiftWide);
		const v1 = f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(keptV, keptV, 2, 3, 0, 1)), shiftWide);
		const w0 = f64x2.sub(f64x2.promote_low_f32x4(keptW), shiftWide);
		const w1 = f64x2.sub(f64x2.promote_low_f32x4(i32x4.shuffle(keptW, keptW, 2, 3, 0, 1)), shiftWide);
		sumLow = f64x2.add(sumLow, f64x2.add(v0, w0));
		sumHigh = f64x2.add(sumHigh, f64x2.add(v1, w1));
		squaresLow = f64x2.add(squaresLow, f64x2.add(f64x2.mul(v0, v0), f64x2.mul(w0, w0)));
		squaresHigh = f64x2.add(squaresHigh, f64x2.add(f64x2.mul(v1, v1), f64x2.mul(w1, w1)));
		Lanes.countKeys(v);
		Lanes.countKeys(w);
	}
	let count =
		i32x4.extract_lane(countVec, 0) +
		i32x4.extract_lane(countVec, 1) +
		i32x4.extract_lane(countVec, 2) +
		i32x4.extract_lane(countVec, 3);
	const sumVec = f64x2.add(sumLow, sumHigh);
	const squaresVec = f64x2.add(squaresLow, squaresHigh);
	let sum = f64x2.extract_lane(sumVec, 0) + f64x2.extract_lane(sumVec, 1);
	let squares = f64x2.extract_lane(squaresVec, 0) + f64x2.extract_lane(squaresVec, 1);
	let min = Mathf.min(
		Mathf.min(f32x4.extract_lane(minVec, 0), f32x4.extract_lane(minVec, 1)),
		Mathf.min(f32x4.extract_lane(minVec, 2), f32x4.extract_lane(minVec, 3)),
	);
	let max = Mathf.max(
		Mathf.max(f32x4.extract_lane(maxVec, 0), f32x4.extract_lane(maxVec, 1)),
		Mathf.max(f32x4.extract_lane(maxVec, 2), f32x4.extract_lane(maxVec, 3)),
	);
	for (let i = vectorEnd; i < n; i++) {
		const v = load<f32>(values + ((<usize>i) << 2));
		if (F32.isNaN(v)) continue;
		count++;
		const deviation = <f64>v - shift;
		sum += deviation;
		squares += deviation * deviation;
		min = Mathf.min(min, v);
		max = Mathf.max(max, v);
		const key = (<usize>(reinterpret<u32>(v) >>> 16)) << 2;
		store<u32>(key, load<u32>(key, SKETCH_TABLE_0) + 1, SKETCH_TABLE_0);
	}
	store<f64>(stats, load<f64>(stats) + <f64>count);
	store<f64>(stats, load<f64>(stats, 16) + sum, 16);
	store<f64>(stats, load<f64>(stats, 24) + squares, 24);
	store<f64>(stats, Math.min(load<f64>(stats, 32), <f64>min), 32);
	store<f64>(stats, Math.max(load<f64>(stats, 40), <f64>max), 40);
	const counts = <usize>load<u32>(stats, 52);
	if (counts !== 0) {
		bin_values(values, n, load<f64>(stats, 64), load<f64>(stats, 72), load<i32>(stats, 56), counts);
	}
}

/**
 * Values per accumulate() call over a whole output: at the evaluator's 256, the reductions and
 * record updates after each call cost the pass about a fifth of its speed (`npm run bench`).
 */
const STATISTICS_BLOCK: i32 = 2048;

/**
 * Adds the values[0..n) of a whole output to the statistics record `stats`, in blocks of
 * STATISTICS_BLOCK (for an output changed after evaluation).
 */
export function output_stats(values: usize, n: i32, stats: usize): void {
	for (let start = 0; start < n; start += STATISTICS_BLOCK) {
		accumulate(values + ((<usize>start) << 2), min(STATISTICS_BLOCK, n - start), stats);
	}
}

/**
 * Takes the sketch's counts out as (key, count) pairs of u32, keys ascending, for every valid key
 * with a count: the four tables are summed into the first, which is then compacted into the
 * pairs, written from sketch_pairs() over the second and third tables (room for all 65536). Every
 * counter is left zero but the pairs', which sketch_clear zeroes once they are read. Returns the
 * pair count.
 */
export function sketch_take(): i32 {
	for (let at = SKETCH_TABLE_0; at < SKETCH_TABLE_1; at += 16) {
		const total = i32x4.add(
			i32x4.add(v128.load(at), v128.load(at + SKETCH_TABLE_BYTES)),
			i32x4.add(v128.load(at + 2 * SKETCH_TABLE_BYTES), v128.load(at + 3 * SKETCH_TABLE_BYTES)),
		);
		const zero = i32x4.splat(0);
		v128.store(at, total);
		v128.store(at + SKETCH_TABLE_BYTES, zero);
		v128.store(at + 2 * SKETCH_TABLE_BYTES, zero);
		v128.store(at + 3 * SKETCH_TABLE_BYTES, zero);
	}
	let taken = 0;
	for (let key = 0; key < SKETCH_KEYS; key++) {
		const at = SKETCH_TABLE_0 + ((<usize>key) << 2);
		const count = load<u32>(at);
		if (count === 0) continue;
		store<u32>(at, 0);
		// An all-ones exponent: the NaN lanes' keys.
		if ((key & 0x7f80) === 0x7f80) continue;
		const out = SKETCH_TABLE_1 + ((<usize>taken) << 3);
		store<u32>(out, key);
		store<u32>(out, count, 4);
		taken++;
	}
	return taken;
}

/** Where sketch_take writes its pairs. */
export function sketch_pairs(): usize {
	return SKETCH_TABLE_1;
}

/** Zeroes the `taken` pairs sketch_take wrote, once they are read: the counters are whole again. */
export function sketch_clear(taken: i32): void {
	memory.fill(SKETCH_TABLE_1, 0, (<usize>taken) << 3);
}

/** The most bins a histogram may have (MAX_HISTOGRAM_BINS in src/wasm/kernels.ts). */
const MAX_BINS: i32 = 1000;
/**
 * bin_values's four tables of bins + 2 counters: consecutive values count in turn in each, so
 * a run of values in one bin (an index's values cluster) does not wait on the store of its own
 * counter's last increment; they are added to the caller's counts at the end.
 */
const BIN_TABLES: usize = memory.data(4 * (MAX_BINS + 2) * 4, 16);

/**
 * Adds to u32 counts[0..bins+2]: bins histogram bins, then values below first, then values
 * above last, of the non-NaN values[0..n). Binning reproduces
 * numpy.histogram(values.astype(float64), bins, range=(first, last)).
 */
export function bin_values(values: usize, n: i32, first: f64, last: f64, bins: i32, counts: usize): void {
	const binsF = <f64>bins;
	const binWidth = (last - first) / binsF;
	const binsPerUnit = binsF / (last - first);
	const lastBin = bins - 1;
	const slots = bins + 2;
	const stride = (<usize>slots) << 2;
	memory.fill(BIN_TABLES, 0, stride << 2);
	for (let j = 0; j < n; j++) {
		const v = <f64>load<f32>(values + ((<usize>j) << 2));
		if (F64.isNaN(v)) continue;
		let slot = bins;
		if (v > last) {
			slot = bins + 1;
		} else if (v >= first) {
			// numpy's uniform-bin fast path: a first guess that can be one bin off near an
			// edge, corrected against the same edges linspace produces.
			slot = <i32>((v - first) * binsPerUnit);
			if (slot === bins) slot = lastBin;
			if (v < binEdge(slot, bins, first, last, binWidth)) {
				slot--;
			} else if (slot !== lastBin && v >= binEdge(slot + 1, bins, first, last, binWidth)) {
				slot++;
			}
		}
		const at = BIN_TABLES + <usize>(j & 3) * stride + ((<usize>slot) << 2);
		store<u32>(at, load<u32>(at) + 1);
	}
	for (let at: usize = 0; at < stride; at += 4) {
		const tables = BIN_TABLES + at;
		const added =
			load<u32>(tables) + load<u32>(tables + stride) + load<u32>(tables + 2 * stride) + load<u32>(tables + 3 * stride);
		store<u32>(counts + at, load<u32>(counts + at) + added);
	}
}

// numpy.linspace(first, last, bins + 1)[index]: arange * step + first, last edge pinned.
function binEdge(index: i32, bins: i32, first: f64, last: f64, binWidth: f64): f64 {
	return index === bins ? last : <f64>index * binWidth + first;
}

/**
 * Undoes TIFF's floating-point predictor (predictor 3) on `rows` rows of `width` float32 values
 * at `source`, each row as the encoder left it: the bytes of its values split into four planes,
 * most significant first, then differenced byte by byte. Sums the differences back in place and
 * writes the little-endian values to `target`. `width` must be a multiple of 16.
 */
export function undo_float_predictor(source: usize, width: i32, rows: i32, target: usize): void {
	const rowBytes = (<usize>width) << 2;
	const zero = i8x16.splat(0);
	for (let row = 0; row < rows; row++) {
		const bytes = source + <usize>row * rowBytes;
		// A running sum of bytes: each vector's prefix sum in four shifted adds, plus the carry of
		// the vectors before it (the last byte so far, in every lane).
		let carry = zero;
		for (let o: usize = 0; o < rowBytes; o += 16) {
			let x = v128.load(bytes + o);
			x = i8x16.add(x, i8x16.shuffle(zero, x, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30));
			x = i8x16.add(x, i8x16.shuffle(zero, x, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29));
			x = i8x16.add(x, i8x16.shuffle(zero, x, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27));
			x = i8x16.add(x, i8x16.shuffle(zero, x, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23));
			x = i8x16.add(x, carry);
			carry = i8x16.shuffle(x, x, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15);
			v128.store(bytes + o, x);
		}
		// Planes back into values, 16 at a time: byte k of a value comes from plane 3 - k.
		const out = target + <usize>row * rowBytes;
		const plane = <usize>width;
		for (let i: usize = 0; i < plane; i += 16) {
			const high = v128.load(bytes + i);
			const second = v128.load(bytes + plane + i);
			const third = v128.load(bytes + 2 * plane + i);
			const low = v128.load(bytes + 3 * plane + i);
			const lowPairs0 = i8x16.shuffle(low, third, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
			const lowPairs1 = i8x16.shuffle(low, third, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
			const highPairs0 = i8x16.shuffle(second, high, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
			const highPairs1 = i8x16.shuffle(second, high, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
			const at = out + (i << 2);
			v128.store(at, i8x16.shuffle(lowPairs0, highPairs0, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23));
			v128.store(
				at,
				i8x16.shuffle(lowPairs0, highPairs0, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31),
				16,
			);
			v128.store(at, i8x16.shuffle(lowPairs1, highPairs1, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), 32);
			v128.store(
				at,
				i8x16.shuffle(lowPairs1, highPairs1, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31),
				48,
			);
		}
	}
}

/**
 * Helpers inlined into the evaluator's loops. AssemblyScript inlines an @inline method at each
 * call, so a constant `op` or sample `type` argument leaves one straight-line loop per case.
 * The register loops do four vectors (UNROLL_BYTES) per iteration at constant offsets, which
 * halves the loop overhead that otherwise dominates a pass over L1-resident registers.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: Biome parses this file as TypeScript, which allows decorators only on class members.
class Lanes {
	@inline
	static binaryLoop(op: i32, last: bool, dst: usize, a: usize, b: usize, bytes: usize): void {
		for (let o: usize = 0; o < bytes; o += UNROLL_BYTES) {
			const x = a + o;
			const y = b + o;
			const z = dst + o;
			v128.store(z, Lanes.finish(last, Lanes.apply2(op, v128.load(x), v128.load(y))));
			v128.store(z, Lanes.finish(last, Lanes.apply2(op, v128.load(x, 16), v128.load(y, 16))), 16);
			v128.store(z, Lanes.finish(last, Lanes.apply2(op, v128.load(x, 32), v128.load(y, 32))), 32);
			v128.store(z, Lanes.finish(last, Lanes.apply2(op, v128.load(x, 48), v128.load(y, 48))), 48);
		}
	}

	@inline
	static ternaryLoop(op: i32, last: bool, dst: usize, a: usize, b: usize, c: usize, bytes: usize): void {
		for (let o: usize = 0; o < bytes; o += UNROLL_BYTES) {
			const x = a + o;
			const y = b + o;
			const w = c + o;
			const z = dst + o;
			v128.store(z, Lanes.finish(last, Lanes.apply3(op, v128.load(x), v128.load(y), v128.load(w))));
			v128.store(z, Lanes.finish(last, Lanes.apply3(op, v128.load(x, 16), v128.load(y, 16), v128.load(w, 16))), 16);
			v128.store(z, Lanes.finish(last, Lanes.apply3(op, v128.load(x, 32), v128.load(y, 32), v128.load(w, 32))), 32);
			v128.store(z, Lanes.finish(last, Lanes.apply3(op, v128.load(x, 48), v128.load(y, 48), v128.load(w, 48))), 48);
		}
	}

	@inline
	static apply3(op: i32, x: v128, y: v128, w: v128): v128 {
		if (op === OP_WHERE) {
			// ne(NaN, 0) holds, so a NaN condition picks y, which the NaN mask then overrides.
			return v128.or(v128.bitselect(y, w, f32x4.ne(x, f32x4.splat(0))), f32x4.ne(x, x));
		}
		return Lanes.applyPair(op, x, y, w);
	}

	/** second(first(x, y), w), or second(w, first(x, y)) when swapped; see OP_PAIR. */
	@inline
	static applyPair(op: i32, x: v128, y: v128, w: v128): v128 {
		const code = op - OP_PAIR;
		const inner = Lanes.apply2(OP_ADD + (code >> 3), x, y);
		const second = OP_ADD + ((code >> 1) & 3);
		return code & 1 ? Lanes.apply2(second, w, inner) : Lanes.apply2(second, inner, w);
	}

	/** OP_SCALED_RATIO over `bytes` bytes; its constants are splatted once, so they stay in registers. */
	@inline
	static scaledRatioLoop(
		last: bool,
		dst: usize,
		a: usize,
		b: usize,
		c: usize,
		p: usize,
		q: usize,
		r: usize,
		k: usize,
		bytes: usize,
	): void {
		const scale = f32x4.splat(load<f32>(c));
		const k0 = f32x4.splat(load<f32>(k));
		const k1 = f32x4.splat(load<f32>(k + BLOCK_BYTES));
		const k2 = f32x4.splat(load<f32>(k + 2 * BLOCK_BYTES));
		for (let o: usize = 0; o < bytes; o += 16) {
			const numerator = f32x4.mul(scale, f32x4.sub(v128.load(a + o), v128.load(b + o)));
			const near = f32x4.add(v128.load(p + o), f32x4.mul(k0, v128.load(q + o)));
			const denominator = f32x4.add(f32x4.sub(near, f32x4.mul(k1, v128.load(r + o))), k2);
			v128.store(dst + o, Lanes.finish(last, f32x4.div(numerator, denominator)));
		}
	}

	/**
	 * Counts the sketch keys of four values, each lane in its table. A key x 4 (its counter's byte
	 * offset) comes from two 64-bit lanes by scalar shifts and masks with immediates, cheaper than
	 * four lane extractions.
	 */
	@inline
	static countKeys(v: v128): void {
		const low = i64x2.extract_lane(v, 0);
		const high = i64x2.extract_lane(v, 1);
		const o0 = <usize>(<u32>(low >>> 14) & 0x3fffc);
		const o1 = <usize>(<u32>(low >>> 46) & 0x3fffc);
		const o2 = <usize>(<u32>(high >>> 14) & 0x3fffc);
		const o3 = <usize>(<u32>(high >>> 46) & 0x3fffc);
		store<u32>(o0, load<u32>(o0, SKETCH_TABLE_0) + 1, SKETCH_TABLE_0);
		store<u32>(o1, load<u32>(o1, SKETCH_TABLE_1) + 1, SKETCH_TABLE_1);
		store<u32>(o2, load<u32>(o2, SKETCH_TABLE_2) + 1, SKETCH_TABLE_2);
		store<u32>(o3, load<u32>(o3, SKETCH_TABLE_3) + 1, SKETCH_TABLE_3);
	}

	@inline
	static unaryLoop(op: i32, last: bool, dst: usize, a: usize, bytes: usize): void {
		for (let o: usize = 0; o < bytes; o += UNROLL_BYTES) {
			const x = a + o;
			const z = dst + o;
			v128.store(z, Lanes.finish(last, Lanes.apply1(op, v128.load(x))));
			v128.store(z, Lanes.finish(last, Lanes.apply1(op, v128.load(x, 16))), 16);
			v128.store(z, Lanes.finish(last, Lanes.apply1(op, v128.load(x, 32))), 32);
			v128.store(z, Lanes.finish(last, Lanes.apply1(op, v128.load(x, 48))), 48);
		}
	}

	/** A result lane as output: NaN where it is not finite (NaN lanes already are). */
	@inline
	static finish(last: bool, v: v128): v128 {
		return last ? v128.or(v, f32x4.ge(f32x4.abs(v), f32x4.splat(Infinity))) : v;
	}

	@inline
	static apply2(op: i32, x: v128, y: v128): v128 {
		if (op === OP_ADD) return f32x4.add(x, y);
		if (op === OP_SUB) return f32x4.sub(x, y);
		if (op === OP_MUL) return f32x4.mul(x, y);
		if (op === OP_DIV) return f32x4.div(x, y);
		// Wasm's f32x4.min and max return NaN when either lane is NaN, as the formula rules want.
		if (op === OP_MIN) return f32x4.min(x, y);
		if (op === OP_MAX) return f32x4.max(x, y);
		// (x - y) / (x + y), the catalog's most common shape, in one pass instead of three.
		if (op === OP_NORMALIZED_DIFFERENCE) return f32x4.div(f32x4.sub(x, y), f32x4.add(x, y));
		if (op === OP_LESS) return Lanes.truth(f32x4.lt(x, y), x, y);
		if (op === OP_LESS_OR_EQUAL) return Lanes.truth(f32x4.le(x, y), x, y);
		if (op === OP_GREATER) return Lanes.truth(f32x4.gt(x, y), x, y);
		if (op === OP_GREATER_OR_EQUAL) return Lanes.truth(f32x4.ge(x, y), x, y);
		if (op === OP_EQUAL) return Lanes.truth(f32x4.eq(x, y), x, y);
		if (op === OP_NOT_EQUAL) return Lanes.truth(f32x4.ne(x, y), x, y);
		if (op === OP_AND) return Lanes.truth(v128.and(f32x4.ne(x, f32x4.splat(0)), f32x4.ne(y, f32x4.splat(0))), x, y);
		if (op === OP_OR) return Lanes.truth(v128.or(f32x4.ne(x, f32x4.splat(0)), f32x4.ne(y, f32x4.splat(0))), x, y);
		if (op >= OP_BIT_AND && op <= OP_BIT) return Lanes.bitwise(op, x, y);
		return pow4(x, y);
	}

	/** 1 where `holds`, else 0; NaN where x or y is NaN. An all-ones lane is a NaN. */
	@inline
	static truth(holds: v128, x: v128, y: v128): v128 {
		return v128.or(v128.and(holds, f32x4.splat(1)), v128.or(f32x4.ne(x, x), f32x4.ne(y, y)));
	}

	/**
	 * A bitwise operation on x and y truncated to i32, as f32 again; NaN where x or y is NaN.
	 * Wasm shifts a whole vector by one count, so shifts by a count per lane go lane by lane.
	 */
	// Not inlined: every inlined copy of apply2 would carry this lane-by-lane body until the
	// optimiser folds it away, which made compiling the module take minutes.
	static bitwise(op: i32, x: v128, y: v128): v128 {
		const a = i32x4.trunc_sat_f32x4_s(x);
		const b = i32x4.trunc_sat_f32x4_s(y);
		let r: v128;
		if (op === OP_BIT_AND) r = v128.and(a, b);
		else if (op === OP_BIT_OR) r = v128.or(a, b);
		else {
			r = i32x4.splat(Lanes.shift(op, i32x4.extract_lane(a, 0), i32x4.extract_lane(b, 0)));
			r = i32x4.replace_lane(r, 1, Lanes.shift(op, i32x4.extract_lane(a, 1), i32x4.extract_lane(b, 1)));
			r = i32x4.replace_lane(r, 2, Lanes.shift(op, i32x4.extract_lane(a, 2), i32x4.extract_lane(b, 2)));
			r = i32x4.replace_lane(r, 3, Lanes.shift(op, i32x4.extract_lane(a, 3), i32x4.extract_lane(b, 3)));
		}
		return v128.or(f32x4.convert_i32x4_s(r), v128.or(f32x4.ne(x, x), f32x4.ne(y, y)));
	}

	/** a << n, a >> n (arithmetic) or bit n of a; n is taken mod 32, as i32 shifts do. */
	@inline
	static shift(op: i32, a: i32, n: i32): i32 {
		if (op === OP_SHIFT_LEFT) return a << n;
		if (op === OP_SHIFT_RIGHT) return a >> n;
		return (a >> n) & 1;
	}

	@inline
	static apply1(op: i32, x: v128): v128 {
		if (op === OP_NEG) return f32x4.neg(x);
		if (op === OP_ABS) return f32x4.abs(x);
		if (op === OP_SQRT) return f32x4.sqrt(x);
		if (op === OP_EXP) return exp4(x);
		if (op === OP_LOG) return log4(x);
		if (op === OP_NOT) return v128.or(v128.and(f32x4.eq(x, f32x4.splat(0)), f32x4.splat(1)), f32x4.ne(x, x));
		return tanh4(x);
	}

	@inline
	static inputLoop(type: u32, scaled: bool, input: usize, start: i32, bytes: usize, register: usize): void {
		const sampleBytes: usize = type === SAMPLE_F64 ? 8 : type >= SAMPLE_U32 ? 4 : type >= SAMPLE_U16 ? 2 : 1;
		const wide = type === SAMPLE_U32 || type === SAMPLE_I32;
		const from = <usize>load<u32>(input) + <usize>start * sampleBytes;
		const hasNodata = load<u32>(input, 8) !== 0;
		const nodata = load<f64>(input, 16);
		// Without nodata the comparison is made against a value no sample can take (NaN for floats,
		// a 32-bit value for narrower integers); only 32-bit integers need a mask to turn it off.
		const nodataMask = i32x4.splat(hasNodata ? -1 : 0);
		const nodataVec =
			type === SAMPLE_F64
				? f64x2.splat(hasNodata ? nodata : NaN)
				: type === SAMPLE_F32
					? f32x4.splat(hasNodata ? <f32>nodata : NaN)
					: i32x4.splat(hasNodata || wide ? <i32>(<i64>nodata) : i32.MIN_VALUE);
		const scale = f32x4.splat(load<f32>(input, 24));
		const offset = f32x4.splat(load<f32>(input, 28));
		// Sample bytes per f32x4 vector of output.
		const step = sampleBytes << 2;
		for (let o: usize = 0; o < bytes; o += UNROLL_BYTES) {
			const source = from + (o >> 2) * sampleBytes;
			const target = register + o;
			v128.store(target, Lanes.convert(type, scaled, source, nodataVec, nodataMask, scale, offset));
			v128.store(target, Lanes.convert(type, scaled, source + step, nodataVec, nodataMask, scale, offset), 16);
			v128.store(target, Lanes.convert(type, scaled, source + 2 * step, nodataVec, nodataMask, scale, offset), 32);
			v128.store(target, Lanes.convert(type, scaled, source + 3 * step, nodataVec, nodataMask, scale, offset), 48);
		}
	}

	/** (a - b) / (a + b) over two inputs of one sample type, converted as they are read, to `out`. */
	@inline
	static differenceLoop(type: u32, scaled: bool, inputA: usize, inputB: usize, start: i32, out: usize, n: i32): void {
		const sampleBytes: usize = type === SAMPLE_F64 ? 8 : type >= SAMPLE_U32 ? 4 : type >= SAMPLE_U16 ? 2 : 1;
		const wide = type === SAMPLE_U32 || type === SAMPLE_I32;
		const fromA = <usize>load<u32>(inputA) + <usize>start * sampleBytes;
		const fromB = <usize>load<u32>(inputB) + <usize>start * sampleBytes;
		const hasNodataA = load<u32>(inputA, 8) !== 0;
		const hasNodataB = load<u32>(inputB, 8) !== 0;
		const nodataA = load<f64>(inputA, 16);
		const nodataB = load<f64>(inputB, 16);
		const maskA = i32x4.splat(hasNodataA ? -1 : 0);
		const maskB = i32x4.splat(hasNodataB ? -1 : 0);
		const nodataVecA =
			type === SAMPLE_F64
				? f64x2.splat(hasNodataA ? nodataA : NaN)
				: type === SAMPLE_F32
					? f32x4.splat(hasNodataA ? <f32>nodataA : NaN)
					: i32x4.splat(hasNodataA || wide ? <i32>(<i64>nodataA) : i32.MIN_VALUE);
		const nodataVecB =
			type === SAMPLE_F64
				? f64x2.splat(hasNodataB ? nodataB : NaN)
				: type === SAMPLE_F32
					? f32x4.splat(hasNodataB ? <f32>nodataB : NaN)
					: i32x4.splat(hasNodataB || wide ? <i32>(<i64>nodataB) : i32.MIN_VALUE);
		const scaleA = f32x4.splat(load<f32>(inputA, 24));
		const scaleB = f32x4.splat(load<f32>(inputB, 24));
		const offsetA = f32x4.splat(load<f32>(inputA, 28));
		const offsetB = f32x4.splat(load<f32>(inputB, 28));
		const bytes = (<usize>(n + 3) >> 2) << 4;
		for (let o: usize = 0; o < bytes; o += 16) {
			const x = Lanes.convert(type, scaled, fromA + (o >> 2) * sampleBytes, nodataVecA, maskA, scaleA, offsetA);
			const y = Lanes.convert(type, scaled, fromB + (o >> 2) * sampleBytes, nodataVecB, maskB, scaleB, offsetB);
			v128.store(out + o, Lanes.finish(true, Lanes.apply2(OP_NORMALIZED_DIFFERENCE, x, y)));
		}
	}

	@inline
	static convert(
		type: u32,
		scaled: bool,
		at: usize,
		nodataVec: v128,
		nodataMask: v128,
		scale: v128,
		offset: v128,
	): v128 {
		let raw: v128;
		let value: v128;
		let invalid: v128;
		if (type === SAMPLE_F32) {
			raw = v128.load(at);
			value = raw;
			invalid = f32x4.eq(raw, nodataVec);
		} else if (type === SAMPLE_F64) {
			const low = v128.load(at);
			const high = v128.load(at, 16);
			value = i32x4.shuffle(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
			// Compared before narrowing; a 64-bit lane mask narrows to its low 32 bits.
			invalid = i32x4.shuffle(f64x2.eq(low, nodataVec), f64x2.eq(high, nodataVec), 0, 2, 4, 6);
		} else {
			if (type === SAMPLE_U16) raw = v128.load16x4_u(at);
			else if (type === SAMPLE_I16) raw = v128.load16x4_s(at);
			else if (type === SAMPLE_U8) raw = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(at)));
			else if (type === SAMPLE_I8) raw = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(at)));
			else raw = v128.load(at);
			value = type === SAMPLE_U32 ? f32x4.convert_i32x4_u(raw) : f32x4.convert_i32x4_s(raw);
			invalid = i32x4.eq(raw, nodataVec);
			if (type === SAMPLE_U32 || type === SAMPLE_I32) invalid = v128.and(invalid, nodataMask);
		}
		if (type === SAMPLE_F32 || type === SAMPLE_F64) {
			invalid = v128.or(invalid, f32x4.ge(f32x4.abs(value), f32x4.splat(Infinity)));
		}
		// In f32, like the formula after it: f64 would round once, but costs EVI a fifth of its speed.
		if (scaled) value = f32x4.add(f32x4.mul(value, scale), offset);
		return v128.or(value, invalid);
	}

	/** Applies a f64x2 function to both halves of an f32x4 and narrows the results again. */
	@inline
	static inHalves(x: v128, op: i32): v128 {
		const low = f64x2.promote_low_f32x4(x);
		const high = f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1));
		return i32x4.shuffle(
			f32x4.demote_f64x2_zero(Lanes.wide(op, low)),
			f32x4.demote_f64x2_zero(Lanes.wide(op, high)),
			0,
			1,
			4,
			5,
		);
	}

	@inline
	static wide(op: i32, x: v128): v128 {
		if (op === WIDE_EXP) return exp2d(x);
		if (op === WIDE_LOG) return log2d(x);
		return tanh2d(x);
	}
}
