// The one place that talks to the block decoders (wasm/assembly/decode.ts): it instantiates the
// compiled module, copies a stored block into its memory, runs the decoder (and undoes
// predictor 2 there, while the bytes are still in Wasm memory), and copies the decoded bytes
// out. Its memory holds one block at a time: the stored bytes and the decoded ones.
import { checkWholeRows, type DifferencedBlock } from "../raster/block-samples";
import type { Codecs } from "../raster/decoders";
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
 * that is not whole rows is refused. Each returns a copy with a buffer of its own, exactly its
 * length, never a view of Wasm memory.
 */
export interface BlockDecoder {
	/** A zlib stream (TIFF Deflate), its Adler-32 checked; refused if it holds more than `maxBytes`. */
	inflate(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): Uint8Array<ArrayBuffer>;
	/**
	 * TIFF LZW codes, decoded until the end-of-information code, `maxBytes`, or the input's end
	 * (a short result, as libtiff gives).
	 */
	lzw(input: Uint8Array, maxBytes: number, differencing?: DifferencedBlock | null): Uint8Array<ArrayBuffer>;
	/**
	 * Undoes predictor 2 on a block that another decoder wrote: in place when the block is a
	 * buffer of its own, exactly its length (returned as it is), else into a copy that is.
	 */
	undoDifferencing(bytes: Uint8Array, differencing: DifferencedBlock): Uint8Array<ArrayBuffer>;
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

export function createBlockDecoder(module: WebAssembly.Module): BlockDecoder {
	const wasm = instantiateDecodeExports(module);
	const base = alignTo16(wasm.heap_base());
	const inputPadding = wasm.input_padding();
	const outputSlack = wasm.output_slack();

	/** Room for `inputBytes` (and its zeroed padding) then `outputBytes` (and its slack). */
	function layout(inputBytes: number, outputBytes: number): { inputAt: number; outputAt: number } {
		const inputAt = base;
		const outputAt = inputAt + alignTo16(inputBytes + inputPadding);
		const end = outputAt + outputBytes + outputSlack;
		const available = wasm.memory.buffer.byteLength;
		if (end > available) wasm.memory.grow(Math.ceil((end - available) / WASM_PAGE_BYTES));
		return { inputAt, outputAt };
	}

	function checkBound(maxBytes: number): void {
		if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > 0x7fffffff) {
			throw new RangeError(`a block's decoded size must be a whole number of bytes, got ${maxBytes}`);
		}
	}

	/** Copies the input in, runs `decode`, and copies the result out with predictor 2 undone. */
	function run(
		input: Uint8Array,
		maxBytes: number,
		differencing: DifferencedBlock | null | undefined,
		decode: (inputAt: number, outputAt: number) => number,
	): Uint8Array<ArrayBuffer> {
		checkBound(maxBytes);
		const { inputAt, outputAt } = layout(input.byteLength, maxBytes);
		// grow() detaches earlier views, so views are made only after layout().
		const memory = new Uint8Array(wasm.memory.buffer);
		memory.set(input, inputAt);
		memory.fill(0, inputAt + input.byteLength, inputAt + input.byteLength + inputPadding);
		const written = decode(inputAt, outputAt);
		if (written >= 0 && differencing) undo(outputAt, written, differencing);
		return memory.slice(outputAt, outputAt + Math.max(written, 0));
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

	return {
		inflate(input, maxBytes, differencing) {
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
		},

		lzw(input, maxBytes, differencing) {
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
		},

		undoDifferencing(bytes, differencing) {
			checkWholeRows(bytes.byteLength, differencing.rowSamples * differencing.bytesPerSample);
			const { outputAt } = layout(0, bytes.byteLength);
			const memory = new Uint8Array(wasm.memory.buffer);
			memory.set(bytes, outputAt);
			undo(outputAt, bytes.byteLength, differencing);
			const undone = memory.subarray(outputAt, outputAt + bytes.byteLength);
			if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) return undone.slice();
			bytes.set(undone);
			return bytes as Uint8Array<ArrayBuffer>;
		},
	};
}

/**
 * The codecs geotiff.js's decoders call (src/raster/decoders.ts), from a block decoder and a
 * Zstandard decoder each got on every call, so a released instance is made again on next use.
 * A Zstandard block leaves zstd's memory in one copy: into a buffer of its own, or into the
 * block decoder's memory to have predictor 2 undone there.
 */
export function codecsOf(decoder: () => BlockDecoder, zstd: () => ZstdDecode): Codecs {
	return {
		inflate: (input, maxBytes, differencing) => decoder().inflate(input, maxBytes, differencing),
		lzw: (input, maxBytes, differencing) => decoder().lzw(input, maxBytes, differencing),
		zstd(input, maxBytes, exact, differencing) {
			const decoded = zstd()(input, maxBytes, exact);
			return differencing ? decoder().undoDifferencing(decoded, differencing) : decoded.slice();
		},
		undoDifferencing: (bytes, differencing) => decoder().undoDifferencing(bytes, differencing),
	};
}

function alignTo16(bytes: number): number {
	return Math.ceil(bytes / 16) * 16;
}
