// The one place that talks to the block decoders (wasm/assembly/decode.ts): it instantiates the
// compiled module, copies a stored block into its memory, runs the decoder (and undoes
// predictor 2 there, while the bytes are still in Wasm memory), and keeps the decoded bytes
// there until their owner frees them (a window, once copied out of) or copies them out. Its
// memory holds the blocks kept, then one block's decoded and stored bytes being decoded.
import { checkWholeRows, type DifferencedBlock } from "../raster/block-samples";
import { type Codecs, copied, type DecodedBlock } from "../raster/decoders";
import { RasterInputError } from "../raster/input-errors";
import { instantiate } from "./instances";
import type { ZstdDecode } from "./zstd";

/** The raw ABI of decode.wasm: every pointer is a byte offset into `memory`. */
interface DecodeExports {
	readonly memory: WebAssembly.Memory;
	heap_base(): number;
	input_padding(): number;
	output_slack(): number;
	error_detail(): number;
	inflate(input: number, inputBytes: number, output: number, maxBytes: number): number;
	lzw(input: number, inputBytes: number, output: number, maxBytes: number): number;
	undo_predictor2(data: number, bytes: number, rowSamples: number, stride: number, bytesPerSample: number): void;
}

/**
 * Decoders of one stored block into at most `maxBytes` bytes. With `differencing`, predictor 2
 * is undone on the result (its samples must be in this machine's byte order), and a result
 * that is not whole rows is refused. The `kept…` decoders leave the block in the decoder's
 * memory, where it stays until freed: a window's blocks cost no allocation each, and the
 * memory serves the next window once they are freed. The others return a copy with a buffer
 * of its own, exactly its length.
 */
export interface BlockDecoder {
	/** A zlib stream (TIFF Deflate), its Adler-32 checked; refused if it holds more than `maxBytes`. */
	keptInflate(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): DecodedBlock;
	/**
	 * TIFF LZW codes, decoded until the end-of-information code, `maxBytes`, or the input's end
	 * (a short result, as libtiff gives).
	 */
	keptLzw(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): DecodedBlock;
	/** `bytes` (another decoder's block) copied in, with predictor 2 undone there when `differencing` is given. */
	keep(bytes: Uint8Array, differencing: DifferencedBlock | null): DecodedBlock;
	/** {@link keptInflate}'s block, copied out. */
	inflate(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): Uint8Array<ArrayBuffer>;
	/** {@link keptLzw}'s block, copied out. */
	lzw(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): Uint8Array<ArrayBuffer>;
	/**
	 * Undoes predictor 2 on a block that another decoder wrote: in place when the block is a
	 * buffer of its own, exactly its length (returned as it is), else into a copy that is.
	 */
	undoDifferencing(bytes: Uint8Array, differencing: DifferencedBlock): Uint8Array<ArrayBuffer>;
	/** Whether a kept block is not yet freed. */
	holdsBlocks(): boolean;
}

const WASM_PAGE_BYTES = 65536;

/** What zlib calls each way a stream can be malformed, by decode.wasm's error code. */
const INFLATE_ERRORS = new Map<number, string>([
	[-2, "unexpected end of file"],
	[-3, "incorrect header check"],
	[-4, "invalid block type"],
	[-5, "invalid stored block lengths"],
	[-6, "invalid code lengths set"],
	[-7, "invalid bit length repeat"],
	[-8, "invalid literal/length code"],
	[-9, "invalid distance code"],
	[-10, "invalid distance too far back"],
	[-11, "incorrect data check"],
	[-12, "invalid code -- missing end-of-block"],
	[-13, "too many length or distance symbols"],
	[-14, "invalid literal/lengths set"],
	[-15, "invalid distances set"],
]);
const TOO_LONG = -1;
const LZW_BAD_CODE = -16;

/** Instantiates decode.wasm and checks its exports, so a stale build fails here. */
function instantiateDecodeExports(module: WebAssembly.Module): DecodeExports {
	const { exports } = instantiate(module);
	const functions = ["heap_base", "input_padding", "output_slack", "error_detail", "inflate", "lzw", "undo_predictor2"];
	const missing = functions.filter((name) => typeof exports[name] !== "function");
	if (!(exports.memory instanceof WebAssembly.Memory) || missing.length > 0) {
		throw new Error(`decode.wasm lacks exports: ${["memory", ...missing].join(", ")}`);
	}
	return exports as unknown as DecodeExports;
}

/** A block kept in decode.wasm's memory: bytes [at, end). */
interface Slot {
	at: number;
	end: number;
	freed: boolean;
}

export function createBlockDecoder(module: WebAssembly.Module): BlockDecoder {
	const wasm = instantiateDecodeExports(module);
	const base = alignTo16(wasm.heap_base());
	const inputPadding = wasm.input_padding();
	const outputSlack = wasm.output_slack();
	/**
	 * The kept blocks, in address order from `base`: a stack, whose top is where the next block
	 * is decoded (its stored bytes just past its room). A freed block's room is taken back once
	 * every block above it is freed too, so windows freed in any order leave it empty.
	 */
	const slots: Slot[] = [];
	const top = () => slots.at(-1)?.end ?? base;

	/** Room at the top for `outputBytes` (and its slack) then `inputBytes` (and its zeroed padding). */
	function layout(outputBytes: number, inputBytes: number): { outputAt: number; inputAt: number } {
		const outputAt = alignTo16(top());
		const inputAt = alignTo16(outputAt + outputBytes + outputSlack);
		const end = inputAt + inputBytes + inputPadding;
		const available = wasm.memory.buffer.byteLength;
		if (end > available) wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		return { outputAt, inputAt };
	}

	function checkBound(maxBytes: number): void {
		if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > 0x7fffffff) {
			throw new RangeError(`a block's decoded size must be a whole number of bytes, got ${maxBytes}`);
		}
	}

	/** The `bytes` at `at`, kept until freed. */
	function kept(at: number, bytes: number): DecodedBlock {
		const slot = { at, end: at + bytes, freed: false };
		slots.push(slot);
		return {
			// grow() detaches earlier views: each call views the memory as it is now.
			bytes: () => {
				if (slot.freed) throw new Error("a freed block was read");
				return new Uint8Array(wasm.memory.buffer, slot.at, slot.end - slot.at);
			},
			free() {
				slot.freed = true;
				while (slots.at(-1)?.freed) slots.pop();
			},
		};
	}

	/** Copies the input in, runs `decode` into the top of the stack, and keeps the result with predictor 2 undone. */
	function run(
		input: Uint8Array,
		maxBytes: number,
		differencing: DifferencedBlock | null | undefined,
		decode: (inputAt: number, outputAt: number) => number,
	): DecodedBlock {
		checkBound(maxBytes);
		const { outputAt, inputAt } = layout(maxBytes, input.byteLength);
		// grow() detaches earlier views, so views are made only after layout().
		const memory = new Uint8Array(wasm.memory.buffer);
		memory.set(input, inputAt);
		memory.fill(0, inputAt + input.byteLength, inputAt + input.byteLength + inputPadding);
		const written = Math.max(decode(inputAt, outputAt), 0);
		if (differencing) undo(outputAt, written, differencing);
		return kept(outputAt, written);
	}

	function undo(at: number, bytes: number, { rowSamples, stride, bytesPerSample }: DifferencedBlock): void {
		checkWholeRows(bytes, rowSamples * bytesPerSample);
		if (![1, 2, 4, 8].includes(bytesPerSample)) {
			throw new RasterInputError(
				"unsupported-raster",
				`predictor 2 needs 1, 2, 4 or 8 bytes per sample, not ${bytesPerSample}`,
			);
		}
		wasm.undo_predictor2(at, bytes, rowSamples, stride, bytesPerSample);
	}

	function keptInflate(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): DecodedBlock {
		return run(input, maxBytes, differencing, (inputAt, outputAt) => {
			const written = wasm.inflate(inputAt, input.byteLength, outputAt, maxBytes);
			if (written === TOO_LONG) {
				throw new RasterInputError("invalid-raster", `Deflate: the block inflates past ${maxBytes} bytes`);
			}
			if (written < 0) {
				const reason = INFLATE_ERRORS.get(written) ?? `error ${written}`;
				throw new RasterInputError("invalid-raster", `Deflate: the block does not inflate (${reason})`);
			}
			return written;
		});
	}

	function keptLzw(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): DecodedBlock {
		return run(input, maxBytes, differencing, (inputAt, outputAt) => {
			const written = wasm.lzw(inputAt, input.byteLength, outputAt, maxBytes);
			if (written === LZW_BAD_CODE) {
				const detail = wasm.error_detail();
				throw new RasterInputError(
					"invalid-raster",
					`LZW: code ${detail & 0xffff} is not in the table (next free code ${detail >>> 16})`,
				);
			}
			if (written < 0)
				throw new RasterInputError("invalid-raster", `LZW: the block does not decode (error ${written})`);
			return written;
		});
	}

	function keep(bytes: Uint8Array, differencing: DifferencedBlock | null): DecodedBlock {
		if (differencing) checkWholeRows(bytes.byteLength, differencing.rowSamples * differencing.bytesPerSample);
		const { outputAt } = layout(bytes.byteLength, 0);
		new Uint8Array(wasm.memory.buffer).set(bytes, outputAt);
		if (differencing) undo(outputAt, bytes.byteLength, differencing);
		return kept(outputAt, bytes.byteLength);
	}

	return {
		keptInflate,
		keptLzw,
		keep,
		inflate: (input, maxBytes, differencing) => copied(keptInflate(input, maxBytes, differencing)),
		lzw: (input, maxBytes, differencing) => copied(keptLzw(input, maxBytes, differencing)),
		undoDifferencing(bytes, differencing) {
			const block = keep(bytes, differencing);
			if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) return copied(block);
			bytes.set(block.bytes());
			block.free();
			return bytes as Uint8Array<ArrayBuffer>;
		},
		holdsBlocks: () => slots.length > 0,
	};
}

/**
 * The codecs geotiff.js's decoders call (src/raster/decoders.ts), from a block decoder and a
 * Zstandard decoder each got on every call, so a released instance is made again on next use.
 * A Zstandard block leaves zstd's memory in one copy, into the block decoder's, where predictor
 * 2 is undone and the block is kept like the others.
 */
export function codecsOf(decoder: () => BlockDecoder, zstd: () => ZstdDecode): Codecs {
	return {
		inflate: (input, maxBytes, differencing) => decoder().keptInflate(input, maxBytes, differencing),
		lzw: (input, maxBytes, differencing) => decoder().keptLzw(input, maxBytes, differencing),
		zstd: (input, maxBytes, exact, differencing) =>
			decoder().keep(zstd()(input, maxBytes, exact), differencing ?? null),
		undoDifferencing: (bytes, differencing) => decoder().undoDifferencing(bytes, differencing),
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
