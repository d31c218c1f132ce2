import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { folderServer } from "./serve-folder";

const server = folderServer(join(import.meta.dirname, "..", "samples"));
let base = "";

beforeAll(async () => {
	await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

describe("serve-folder", () => {
	it("answers byte ranges as a COG host does, with a strong ETag", async () => {
		const whole = await fetch(`${base}/s2_red_256.tif`);
		const size = Number(whole.headers.get("content-length"));
		await whole.arrayBuffer();
		const ranged = await fetch(`${base}/s2_red_256.tif`, { headers: { range: "bytes=0-7" } });
		expect(ranged.status).toBe(206);
		expect(ranged.headers.get("content-range")).toBe(`bytes 0-7/${size}`);
		expect((await ranged.arrayBuffer()).byteLength).toBe(8);
		const etag = ranged.headers.get("etag") ?? "";
		expect(etag).toMatch(/^"/);
		const changed = await fetch(`${base}/s2_red_256.tif`, { headers: { range: "bytes=0-7", "if-match": '"other"' } });
		expect(changed.status).toBe(412);
	});

	it("serves nothing outside its folder", async () => {
		expect((await fetch(`${base}/../package.json`)).status).toBe(404);
		expect((await fetch(`${base}/%2e%2e/package.json`)).status).toBe(404);
		expect((await fetch(`${base}/missing.tif`)).status).toBe(404);
	});

	it("answers a path that is not percent-encoded UTF-8 with 400 and keeps serving", async () => {
		expect((await fetch(`${base}/%E0%A4%A.tif`)).status).toBe(400);
		expect((await fetch(`${base}/s2_red_256.tif`, { headers: { range: "bytes=0-7" } })).status).toBe(206);
	});
});
