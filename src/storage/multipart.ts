/**
 * Writes one R2 object of unknown final size through a multipart upload, as a stream: bytes
 * are cut into parts of exactly `partBytes` (R2 wants every part but the last the same size,
 * at least 5 MiB), so at most one part is ever held in memory.
 */

/** R2's smallest part, except for the last one. */
const MIN_PART_BYTES = 5 * 1024 * 1024;

export class MultipartWriter {
	readonly #upload: R2MultipartUpload;
	readonly #partBytes: number;
	readonly #parts: R2UploadedPart[] = [];
	#buffer: Uint8Array;
	#filled = 0;
	#written = 0;

	constructor(upload: R2MultipartUpload, partBytes: number) {
		if (partBytes < MIN_PART_BYTES) throw new RangeError(`parts must be at least ${MIN_PART_BYTES} bytes`);
		this.#upload = upload;
		this.#partBytes = partBytes;
		this.#buffer = new Uint8Array(partBytes);
	}

	/** Bytes written so far. */
	get written(): number {
		return this.#written;
	}

	async write(chunk: Uint8Array): Promise<void> {
		let offset = 0;
		while (offset < chunk.byteLength) {
			const take = Math.min(chunk.byteLength - offset, this.#partBytes - this.#filled);
			this.#buffer.set(chunk.subarray(offset, offset + take), this.#filled);
			this.#filled += take;
			offset += take;
			if (this.#filled === this.#partBytes) await this.#flush();
		}
		this.#written += chunk.byteLength;
	}

	async writeStream(stream: ReadableStream<Uint8Array>): Promise<void> {
		for await (const chunk of stream) await this.write(chunk);
	}

	async #flush(): Promise<void> {
		const part = await this.#upload.uploadPart(this.#parts.length + 1, this.#buffer.subarray(0, this.#filled));
		this.#parts.push(part);
		this.#filled = 0;
	}

	/** Uploads what is left as the last part and completes the object. */
	async complete(): Promise<R2Object> {
		if (this.#filled > 0 || this.#parts.length === 0) await this.#flush();
		return this.#upload.complete(this.#parts);
	}

	abort(): Promise<void> {
		return this.#upload.abort();
	}
}
