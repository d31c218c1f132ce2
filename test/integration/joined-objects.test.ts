/**
 * An object put from stored parts, streamed one after another (src/storage/objects.ts, what a
 * large zonal job's artifacts are joined with), against R2 in workerd.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { putJoined } from "../../src/storage/objects";

const encoder = new TextEncoder();

async function storedParts(prefix: string, texts: string[]) {
	return Promise.all(
		texts.map(async (text, i) => {
			const key = `${prefix}/part-${i}`;
			const stored = await env.BUCKET.put(key, encoder.encode(text));
			return { key, size: stored?.size ?? 0 };
		}),
	);
}

describe("an object joined from stored parts", () => {
	it("is the parts' bytes one after another, however large each", async () => {
		const texts = ["id,count\r\n", "a,1\r\n".repeat(100_000), "", "z,9\r\n"];
		const parts = await storedParts("joined/whole", texts);
		const object = await putJoined(env.BUCKET, "joined/whole.csv", parts, {
			httpMetadata: { contentType: "text/csv" },
		});
		expect(object.size).toBe(parts.reduce((sum, part) => sum + part.size, 0));
		const stored = await env.BUCKET.get("joined/whole.csv");
		expect(await stored?.text()).toBe(texts.join(""));
		expect(stored?.httpMetadata?.contentType).toBe("text/csv");
	});

	it("fails, and stores nothing, when a part is gone or not of the size it was stored at", async () => {
		const parts = await storedParts("joined/broken", ["first part\n", "second part\n"]);
		const resized = [parts[0], { ...parts[1], size: (parts[1]?.size ?? 0) + 1 }] as typeof parts;
		await expect(putJoined(env.BUCKET, "joined/resized", resized, {})).rejects.toThrow(/is 12 bytes/);
		expect(await env.BUCKET.head("joined/resized")).toBeNull();
		const gone = [...parts, { key: "joined/broken/none", size: 3 }];
		await expect(putJoined(env.BUCKET, "joined/gone", gone, {})).rejects.toThrow(/is gone/);
		expect(await env.BUCKET.head("joined/gone")).toBeNull();
	});
});
