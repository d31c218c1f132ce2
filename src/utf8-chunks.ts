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
			if (this.used > 0) this.full.push(this.current.subarray(0, this.used));
			this.current = new Uint8Array(Math.max(CHUNK_BYTES, 3 * (rest.length - read)));
			this.used = 0;
			rest = rest.slice(read);
		}
	}

	/**
	 * What was written, chunk by chunk, each let go once given, leaving the text empty: streamed
	 * out (as zones.csv and zones.geojson are put), it is never held twice over, as one array
	 * joined from it would be.
	 */
	*drain(): Generator<Uint8Array<ArrayBuffer>> {
		const full = this.full.splice(0);
		for (let chunk = full.shift(); chunk !== undefined; chunk = full.shift()) yield chunk;
		const last = this.current.subarray(0, this.used);
		this.current = new Uint8Array(0);
		this.used = 0;
		this.written = 0;
		if (last.byteLength > 0) yield last;
	}
}
