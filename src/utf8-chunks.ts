/**
 * UTF-8 text written piece by piece straight into bytes (TextEncoder.encodeInto), for an
 * artifact of megabytes built from thousands of pieces: as one string, the pieces, the lines
 * joined and the joined text were each held or left as garbage beside the bytes stored, about
 * ten times the artifact in all (zones.csv in bench:fields).
 */
const encoder = new TextEncoder();

/** Bytes a chunk holds: large enough that writing a piece rarely crosses into a new one. */
const CHUNK_BYTES = 64 * 1024;

export class Utf8Chunks {
	private readonly full: Uint8Array<ArrayBuffer>[] = [];
	private current = new Uint8Array(CHUNK_BYTES);
	private used = 0;
	private written = 0;

	/** Bytes written so far. */
	get byteLength(): number {
		return this.written;
	}

	/** Appends `text` as UTF-8 (a lone surrogate as U+FFFD, as TextEncoder.encode gives it). */
	write(text: string): void {
		let rest = text;
		for (;;) {
			const { read, written } = encoder.encodeInto(rest, this.current.subarray(this.used));
			this.used += written;
			this.written += written;
			if (read === rest.length) return;
			// The chunk is full, or too nearly so for the next character: it ends where that character would start.
			this.full.push(this.current.subarray(0, this.used));
			this.current = new Uint8Array(Math.max(CHUNK_BYTES, 3 * (rest.length - read)));
			this.used = 0;
			rest = rest.slice(read);
		}
	}

	/** What was written, as one array of bytes. */
	toBytes(): Uint8Array<ArrayBuffer> {
		const bytes = new Uint8Array(this.written);
		let at = 0;
		for (const chunk of [...this.full, this.current.subarray(0, this.used)]) {
			bytes.set(chunk, at);
			at += chunk.byteLength;
		}
		return bytes;
	}
}
