/**
 * Just enough of the Worker's bindings, under Node, to run the pipeline's own stage handlers
 * through its dispatcher for bench:scene: D1 over node:sqlite (with the migrations applied),
 * R2 over a directory (so objects never sit in this process's memory), and queues that collect
 * what is sent.
 *
 * The directory's file system calls and SQLite's statements stand in for R2's and D1's own
 * work, which a Worker does not spend CPU time on (both are subrequests); the CPU they take is
 * counted apart, in {@link StorageCpu}, so the bench can report the stages' CPU without it.
 */

import { createHash } from "node:crypto";
import {
	closeSync,
	existsSync,
	mkdirSync,
	openSync,
	readdirSync,
	readFileSync,
	readSync,
	rmSync,
	statSync,
	writeSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

class Statement {
	constructor(
		readonly db: DatabaseSync,
		readonly storage: StorageCpu,
		readonly sql: string,
		readonly params: SQLInputValue[] = [],
	) {}
	bind(...params: unknown[]): Statement {
		return new Statement(this.db, this.storage, this.sql, params as SQLInputValue[]);
	}
	async first<T>(): Promise<T | null> {
		return this.storage.run(() => (this.db.prepare(this.sql).get(...this.params) as T | undefined) ?? null);
	}
	async all<T>(): Promise<{ results: T[] }> {
		return this.storage.run(() => ({ results: this.db.prepare(this.sql).all(...this.params) as T[] }));
	}
	async run(): Promise<{ meta: { changes: number } }> {
		return this.storage.run(() => ({
			meta: { changes: Number(this.db.prepare(this.sql).run(...this.params).changes) },
		}));
	}
	execute(): { results: unknown[]; meta: { changes: number } } {
		const statement = this.db.prepare(this.sql);
		// A statement that returns rows: a query, or a write with RETURNING (WITH may start either).
		if (/^\s*SELECT|RETURNING|^\s*WITH(?![\s\S]*\b(INSERT|UPDATE|DELETE)\b)/i.test(this.sql))
			return { results: statement.all(...this.params), meta: { changes: 0 } };
		return { results: [], meta: { changes: Number(statement.run(...this.params).changes) } };
	}
}

export function nodeD1(migrationsDir: string, storage: StorageCpu): D1Database {
	const db = new DatabaseSync(":memory:");
	for (const file of readdirSync(migrationsDir).sort()) db.exec(readFileSync(join(migrationsDir, file), "utf8"));
	return {
		prepare: (sql: string) => new Statement(db, storage, sql),
		async batch(statements: Statement[]) {
			return storage.run(() => {
				db.exec("BEGIN");
				try {
					const results = statements.map((statement) => statement.execute());
					db.exec("COMMIT");
					return results;
				} catch (error) {
					db.exec("ROLLBACK");
					throw error;
				}
			});
		},
	} as unknown as D1Database;
}

/** A put's value as chunks: a Blob or stream is written as it is read, never gathered into one buffer. */
async function* chunksOf(value: unknown): AsyncGenerator<Uint8Array> {
	if (typeof value === "string") yield new TextEncoder().encode(value);
	else if (value instanceof ArrayBuffer) yield new Uint8Array(value);
	else if (ArrayBuffer.isView(value)) yield new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
	else yield* value instanceof Blob ? value.stream() : (value as ReadableStream<Uint8Array>);
}

/** Size of the chunks an object's body streams in. */
const STREAM_CHUNK_BYTES = 256 * 1024;

/** Milliseconds of CPU (all threads) since `start`, a process.cpuUsage() reading. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
	const spent = process.cpuUsage(start);
	return (spent.user + spent.system) / 1000;
}

/** CPU time (all threads) spent in the R2 and D1 stand-ins' calls. */
export class StorageCpu {
	ms = 0;
	/** Called before and after every call, outside the CPU counted (e.g. to sample memory). */
	aroundCall: (() => void) | null = null;

	/** Runs a synchronous file system or SQLite call, adding its CPU time. */
	run<T>(call: () => T): T {
		this.aroundCall?.();
		const start = process.cpuUsage();
		try {
			return call();
		} finally {
			this.ms += cpuMsSince(start);
			this.aroundCall?.();
		}
	}
}

/** Bytes served per object key: what reads of each object's body fetched from the directory. */
export type ServedBytes = Map<string, number>;

/**
 * An object's body, its chunks read from the file as they are pulled. Piped into a DigestStream
 * it is pumped as workerd pumps one of its own streams into another (an R2 body into
 * `crypto.DigestStream`, publish's `file:checksum` of result.tif): natively, through one buffer,
 * with no JavaScript chunk per read. As chunks, the 350 MB of bench:scene's result.tif were
 * garbage no Worker makes, most of index publish's peak and half its CPU (collector threads).
 * The reads count as R2's, the hashing as the invocation's, as before.
 */
class ObjectBody extends ReadableStream<Uint8Array> {
	constructor(
		private readonly readInto: (at: number, into: Uint8Array) => void,
		private readonly length: number,
		source: UnderlyingDefaultSource<Uint8Array>,
	) {
		super(source);
	}

	override async pipeTo(destination: WritableStream<Uint8Array>, options?: StreamPipeOptions): Promise<void> {
		if (!(destination instanceof NodeDigestStream) || this.locked) return super.pipeTo(destination, options);
		const buffer = new Uint8Array(Math.min(STREAM_CHUNK_BYTES, this.length));
		for (let at = 0; at < this.length; at += buffer.byteLength) {
			const piece = buffer.subarray(0, Math.min(buffer.byteLength, this.length - at));
			this.readInto(at, piece);
			destination.absorb(piece);
		}
		destination.end();
	}
}

function objectBody(
	storage: StorageCpu,
	served: ServedBytes | undefined,
	path: string,
	key: string,
	range?: { offset: number; length: number },
) {
	const size = storage.run(() => statSync(path).size);
	const offset = range?.offset ?? 0;
	const length = range?.length ?? size - offset;
	/** Fills `into` with the object's range from `at` within it. */
	const readInto = (at: number, into: Uint8Array) =>
		storage.run(() => {
			const fd = openSync(path, "r");
			readSync(fd, into, 0, into.byteLength, offset + at);
			closeSync(fd);
			served?.set(key, (served.get(key) ?? 0) + into.byteLength);
		});
	/** `count` bytes of the object's range, from `at` within it. */
	const read = (at = 0, count = length) => {
		// Allocated as R2's side of the call, as it was when reads made their buffers inside it.
		const bytes = storage.run(() => new Uint8Array(count));
		readInto(at, bytes);
		return bytes;
	};
	// A body streams in chunks, as R2's does, rather than arriving as one buffer.
	const stream = () => {
		let at = 0;
		return new ObjectBody(readInto, length, {
			pull(controller) {
				const bytes = read(at, Math.min(STREAM_CHUNK_BYTES, length - at));
				at += bytes.length;
				controller.enqueue(bytes);
				if (at >= length) controller.close();
			},
		});
	};
	return {
		key,
		size,
		httpEtag: `"${size}"`,
		async arrayBuffer() {
			return read().buffer;
		},
		async text() {
			return new TextDecoder().decode(read());
		},
		async json() {
			return JSON.parse(new TextDecoder().decode(read())) as unknown;
		},
		get body() {
			return length === 0 ? new Blob([]).stream() : stream();
		},
	};
}

/** R2 over a directory: every object a file, written and read whole or by range; `served` counts what reads fetched. */
export function directoryR2(root: string, storage: StorageCpu, served?: ServedBytes): R2Bucket {
	const pathOf = (key: string) => join(root, key);
	const exists = (key: string) => storage.run(() => existsSync(pathOf(key)));
	/** Writes `value` to `path` chunk by chunk; returns its size. */
	const writeFile = async (path: string, value: unknown) => {
		const fd = storage.run(() => {
			mkdirSync(dirname(path), { recursive: true });
			return openSync(path, "w");
		});
		let size = 0;
		try {
			for await (const chunk of chunksOf(value)) {
				storage.run(() => writeSync(fd, chunk));
				size += chunk.byteLength;
			}
		} finally {
			storage.run(() => closeSync(fd));
		}
		return size;
	};
	/** A multipart upload: its parts are files of a directory until it is completed or aborted. */
	const multipart = (key: string, uploadId: string, create: boolean) => {
		const parts = join(root, ".multipart", uploadId);
		if (create) storage.run(() => mkdirSync(parts, { recursive: true }));
		const open = () => {
			if (!storage.run(() => existsSync(parts))) throw new Error(`multipart upload ${uploadId} does not exist`);
		};
		return {
			key,
			uploadId,
			async uploadPart(partNumber: number, value: unknown) {
				open();
				const size = await writeFile(join(parts, String(partNumber)), value);
				return { partNumber, etag: `${partNumber}-${size}` };
			},
			async complete(uploaded: { partNumber: number }[]) {
				open();
				return storage.run(() => {
					mkdirSync(dirname(pathOf(key)), { recursive: true });
					const fd = openSync(pathOf(key), "w");
					// Copied through one small buffer: joining the parts is R2's work, not memory of the isolate.
					const buffer = new Uint8Array(STREAM_CHUNK_BYTES);
					for (const { partNumber } of uploaded) {
						const part = openSync(join(parts, String(partNumber)), "r");
						for (let read = readSync(part, buffer); read > 0; read = readSync(part, buffer)) {
							writeSync(fd, buffer, 0, read);
						}
						closeSync(part);
					}
					closeSync(fd);
					rmSync(parts, { recursive: true, force: true });
					return { key, size: statSync(pathOf(key)).size };
				});
			},
			async abort() {
				storage.run(() => rmSync(parts, { recursive: true, force: true }));
			},
		};
	};
	const bucket = {
		async put(key: string, value: unknown) {
			return { key, size: await writeFile(pathOf(key), value) };
		},
		async get(key: string, options?: { range?: { offset: number; length: number } }) {
			return exists(key) ? objectBody(storage, served, pathOf(key), key, options?.range) : null;
		},
		async head(key: string) {
			return exists(key) ? { key, size: storage.run(() => statSync(pathOf(key)).size) } : null;
		},
		async delete(keys: string | string[]) {
			storage.run(() => {
				for (const key of [keys].flat()) rmSync(pathOf(key), { force: true });
			});
		},
		async list({ prefix }: { prefix: string }) {
			const walk = (dir: string): string[] =>
				existsSync(dir)
					? readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
							entry.isDirectory() ? walk(join(dir, entry.name)) : [relative(root, join(dir, entry.name))],
						)
					: [];
			return { objects: storage.run(() => walk(pathOf(prefix))).map((key) => ({ key })), truncated: false };
		},
		async createMultipartUpload(key: string) {
			return multipart(key, `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`, true);
		},
		resumeMultipartUpload(key: string, uploadId: string) {
			return multipart(key, uploadId, false);
		},
	};
	return bucket as unknown as R2Bucket;
}

/** A queue producer that keeps what is sent. */
export function collectingQueue(): Queue & { sent: unknown[] } {
	const sent: unknown[] = [];
	return {
		sent,
		async send(body: unknown) {
			sent.push(body);
		},
		async sendBatch(messages: { body: unknown }[]) {
			for (const message of messages) sent.push(message.body);
		},
	} as unknown as Queue & { sent: unknown[] };
}

/**
 * Workers' `crypto.DigestStream` (publish hashes every artifact through it, src/storage/objects.ts),
 * which Node lacks: a WritableStream whose `digest` resolves to the hash of what was written.
 */
class NodeDigestStream extends WritableStream<ArrayBufferView | ArrayBuffer> {
	readonly digest: Promise<ArrayBuffer>;
	/** Hashes bytes pumped in without a write (an {@link ObjectBody} piped in). */
	readonly absorb: (bytes: Uint8Array) => void;
	/** Settles `digest` after bytes pumped in. */
	readonly end: () => void;
	constructor(algorithm: string) {
		const hash = createHash(algorithm.replace("-", "").toLowerCase());
		let settle: (digest: ArrayBuffer) => void = () => undefined;
		const end = () => {
			const bytes = hash.digest();
			settle(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
		};
		super({
			write(chunk) {
				hash.update(
					chunk instanceof ArrayBuffer
						? new Uint8Array(chunk)
						: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
				);
			},
			close: end,
		});
		this.digest = new Promise((resolve) => {
			settle = resolve;
		});
		this.absorb = (bytes) => {
			hash.update(bytes);
		};
		this.end = end;
	}
}

/**
 * Workers' `FixedLengthStream` (publish streams zones.csv and zones.geojson to R2 through it,
 * src/storage/objects.ts), which Node lacks: bytes passed through as written, failing when they
 * come to more or fewer than the length given.
 */
class NodeFixedLengthStream extends TransformStream<Uint8Array, Uint8Array> {
	constructor(length: number) {
		let passed = 0;
		super({
			transform(chunk, controller) {
				passed += chunk.byteLength;
				if (passed > length) throw new Error(`FixedLengthStream: more than ${length} bytes written`);
				controller.enqueue(chunk);
			},
			flush() {
				if (passed !== length) throw new Error(`FixedLengthStream: ${passed} bytes written of ${length}`);
			},
		});
	}
}

/** Gives Node the Workers crypto and stream APIs the pipeline uses; idempotent. */
export function installWorkersApis(): void {
	const workers = globalThis.crypto as unknown as { DigestStream?: unknown };
	if (workers.DigestStream === undefined) {
		Object.defineProperty(globalThis.crypto, "DigestStream", { value: NodeDigestStream, configurable: true });
	}
	if (!("FixedLengthStream" in globalThis)) {
		Object.defineProperty(globalThis, "FixedLengthStream", { value: NodeFixedLengthStream, configurable: true });
	}
}
