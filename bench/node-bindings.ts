/**
 * Just enough of the Worker's bindings, under Node, to run the pipeline's own stage handlers
 * one invocation at a time for bench:scene: D1 over node:sqlite (with the migrations applied),
 * R2 over a directory (so objects never sit in this process's memory), and queues that collect
 * what is sent.
 */
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
	writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";

class Statement {
	constructor(
		readonly db: DatabaseSync,
		readonly sql: string,
		readonly params: SQLInputValue[] = [],
	) {}
	bind(...params: unknown[]): Statement {
		return new Statement(this.db, this.sql, params as SQLInputValue[]);
	}
	async first<T>(): Promise<T | null> {
		return (this.db.prepare(this.sql).get(...this.params) as T | undefined) ?? null;
	}
	async all<T>(): Promise<{ results: T[] }> {
		return { results: this.db.prepare(this.sql).all(...this.params) as T[] };
	}
	async run(): Promise<{ meta: { changes: number } }> {
		return { meta: { changes: Number(this.db.prepare(this.sql).run(...this.params).changes) } };
	}
	execute(): { results: unknown[]; meta: { changes: number } } {
		const statement = this.db.prepare(this.sql);
		if (/^\s*(SELECT|WITH)|RETURNING/i.test(this.sql))
			return { results: statement.all(...this.params), meta: { changes: 0 } };
		return { results: [], meta: { changes: Number(statement.run(...this.params).changes) } };
	}
}

export function nodeD1(migrationsDir: string): D1Database {
	const db = new DatabaseSync(":memory:");
	for (const file of readdirSync(migrationsDir).sort()) db.exec(readFileSync(join(migrationsDir, file), "utf8"));
	return {
		prepare: (sql: string) => new Statement(db, sql),
		async batch(statements: Statement[]) {
			db.exec("BEGIN");
			try {
				const results = statements.map((statement) => statement.execute());
				db.exec("COMMIT");
				return results;
			} catch (error) {
				db.exec("ROLLBACK");
				throw error;
			}
		},
	} as unknown as D1Database;
}

async function bytesOf(value: unknown): Promise<Uint8Array> {
	if (typeof value === "string") return new TextEncoder().encode(value);
	if (value instanceof ArrayBuffer) return new Uint8Array(value);
	if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
	if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
	return new Uint8Array(await new Response(value as ReadableStream).arrayBuffer());
}

function objectBody(path: string, key: string, range?: { offset: number; length: number }) {
	const size = statSync(path).size;
	const offset = range?.offset ?? 0;
	const length = range?.length ?? size - offset;
	const read = () => {
		const bytes = new Uint8Array(length);
		const fd = openSync(path, "r");
		readSync(fd, bytes, 0, length, offset);
		closeSync(fd);
		return bytes;
	};
	return {
		key,
		size,
		httpEtag: `"${size}"`,
		async arrayBuffer() {
			return read().buffer;
		},
		get body() {
			return new Blob([read()]).stream();
		},
	};
}

/** R2 over a directory: every object a file, written and read whole or by range. */
export function directoryR2(root: string): R2Bucket {
	const pathOf = (key: string) => join(root, key);
	const write = (key: string, bytes: Uint8Array) => {
		mkdirSync(dirname(pathOf(key)), { recursive: true });
		writeFileSync(pathOf(key), bytes);
		return { key, size: bytes.byteLength };
	};
	const bucket = {
		async put(key: string, value: unknown) {
			return write(key, await bytesOf(value));
		},
		async get(key: string, options?: { range?: { offset: number; length: number } }) {
			return existsSync(pathOf(key)) ? objectBody(pathOf(key), key, options?.range) : null;
		},
		async head(key: string) {
			return existsSync(pathOf(key)) ? { key, size: statSync(pathOf(key)).size } : null;
		},
		async delete(keys: string | string[]) {
			for (const key of [keys].flat()) rmSync(pathOf(key), { force: true });
		},
		async list({ prefix }: { prefix: string }) {
			const walk = (dir: string): string[] =>
				existsSync(dir)
					? readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
							entry.isDirectory() ? walk(join(dir, entry.name)) : [relative(root, join(dir, entry.name))],
						)
					: [];
			return { objects: walk(pathOf(prefix)).map((key) => ({ key })), truncated: false };
		},
		async createMultipartUpload(key: string) {
			const parts = join(root, ".multipart", key);
			mkdirSync(parts, { recursive: true });
			return {
				uploadId: key,
				async uploadPart(partNumber: number, value: unknown) {
					writeFileSync(join(parts, String(partNumber)), await bytesOf(value));
					return { partNumber, etag: String(partNumber) };
				},
				async complete(uploaded: { partNumber: number }[]) {
					mkdirSync(dirname(pathOf(key)), { recursive: true });
					const fd = openSync(pathOf(key), "w");
					for (const { partNumber } of uploaded) {
						const bytes = readFileSync(join(parts, String(partNumber)));
						writeFileSync(fd, bytes);
					}
					closeSync(fd);
					rmSync(parts, { recursive: true, force: true });
					return { key, size: statSync(pathOf(key)).size };
				},
				async abort() {
					rmSync(parts, { recursive: true, force: true });
				},
			};
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
