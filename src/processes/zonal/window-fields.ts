/**
 * What a zonal window stores for publish: its finished fields' statistics, and the partial
 * weighings (the accumulators' bytes) of the fields its edge cuts. Compute writes one object per
 * window; publish reads every window of the job, one after another.
 *
 * The object: "EOZW", the header's byte length (uint32, little-endian), the header (UTF-8 JSON,
 * `{ finished: { position: statistics }, partial: [[position, bytes], …] }`), then each partial's
 * bytes in the header's order, each from an 8-byte boundary so that its accumulator can view
 * them in place. The partials are raw rather than base64 strings inside the JSON: as text, then
 * base64, then bytes, they were most of what publish allocated (bench:fields).
 *
 * A window stored as JSON with base64 partials (by a deploy before this format, for a job in
 * flight across it) is still read.
 */
import { fromBase64 } from "../../base64";
import type { ZoneStatistics } from "./statistics";

const MAGIC = [0x45, 0x4f, 0x5a, 0x57]; // "EOZW"
/** The magic and the header's byte length. */
const PREFIX_BYTES = 8;
const ALIGNMENT = 8;
/** "{", which the JSON a window was stored as before this format starts with. */
const JSON_OBJECT_START = 0x7b;

/** A window's fields as publish reads them. */
export interface WindowFields {
	/** Field position → its statistics, for a field the window holds whole. */
	finished: [number, ZoneStatistics][];
	/** Field position → its weighed values so far (an accumulator's bytes), for a field cut by the window's edge. */
	partial: [number, Uint8Array][];
}

interface Header {
	finished: Record<string, ZoneStatistics>;
	partial: [number, number][];
}

const aligned = (bytes: number) => Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;

/** A window's fields as compute weighs them, one at a time, into the stored object. */
export class WindowFieldsWriter {
	private readonly finished: Record<string, ZoneStatistics> = {};
	private readonly partial: [number, Uint8Array][] = [];

	finish(field: number, statistics: ZoneStatistics): void {
		this.finished[field] = statistics;
	}

	/** A field cut by the window's edge: its accumulator's bytes, which the writer keeps. */
	cut(field: number, partial: Uint8Array): void {
		this.partial.push([field, partial]);
	}

	get partialFields(): number {
		return this.partial.length;
	}

	toBytes(): Uint8Array {
		const header: Header = {
			finished: this.finished,
			partial: this.partial.map(([field, bytes]) => [field, bytes.byteLength]),
		};
		const json = new TextEncoder().encode(JSON.stringify(header));
		const start = aligned(PREFIX_BYTES + json.byteLength);
		const size = this.partial.reduce((end, [, bytes]) => aligned(end + bytes.byteLength), start);
		const stored = new Uint8Array(size);
		stored.set(MAGIC);
		new DataView(stored.buffer).setUint32(4, json.byteLength, true);
		stored.set(json, PREFIX_BYTES);
		let at = start;
		for (const [, bytes] of this.partial) {
			stored.set(bytes, at);
			at = aligned(at + bytes.byteLength);
		}
		return stored;
	}
}

/** The fields of a stored window; its partials are views of `stored`, which the caller hands over. */
export function readWindowFields(stored: Uint8Array): WindowFields {
	if (stored[0] === JSON_OBJECT_START) return readJsonWindow(stored);
	if (stored.byteLength < PREFIX_BYTES || MAGIC.some((byte, i) => stored[i] !== byte)) {
		throw new Error("a stored window is neither of the formats windows are stored in");
	}
	const length = new DataView(stored.buffer, stored.byteOffset).getUint32(4, true);
	const header = JSON.parse(new TextDecoder().decode(stored.subarray(PREFIX_BYTES, PREFIX_BYTES + length))) as Header;
	let at = aligned(PREFIX_BYTES + length);
	const partial = header.partial.map(([field, bytes]): [number, Uint8Array] => {
		if (at + bytes > stored.byteLength) throw new Error(`a stored window ends inside the partial of field ${field}`);
		const view = stored.subarray(at, at + bytes);
		at = aligned(at + bytes);
		return [field, view];
	});
	return { finished: numbered(header.finished), partial };
}

/** A window stored as JSON, its partials base64. */
function readJsonWindow(stored: Uint8Array): WindowFields {
	const fields = JSON.parse(new TextDecoder().decode(stored)) as {
		finished: Record<string, ZoneStatistics>;
		partial: Record<string, string>;
	};
	return {
		finished: numbered(fields.finished),
		partial: Object.entries(fields.partial).map(([field, text]) => [Number(field), fromBase64(text)]),
	};
}

function numbered<T>(byField: Record<string, T>): [number, T][] {
	return Object.entries(byField).map(([field, value]) => [Number(field), value]);
}
