/**
 * Remote inputs: Cloud-Optimized GeoTIFFs read over HTTPS by byte ranges. This is the only
 * module that fetches a URL a client gave, and it only fetches a {@link RemoteHref}, which
 * exists only as the output of the zod schema below (HTTPS, no credentials).
 *
 * Failures are sorted by whether waiting can help: a 5xx, 408, 429 or a timeout throws a
 * retryable {@link RemoteReadError}; a 404, any other answer, a server that ignores Range
 * (it would send the whole file, which is refused unread) or an unreachable host cannot
 * improve by retrying.
 */
import { z } from "zod";
import type { RangeReader } from "./ranged-source";

const MAX_HREF_LENGTH = 2048;

export const remoteHref = z
	.url({ protocol: /^https$/, error: "must be an https:// URL" })
	.max(MAX_HREF_LENGTH)
	.refine((href) => {
		const url = new URL(href);
		return url.username === "" && url.password === "";
	}, "must not carry credentials")
	.brand<"RemoteHref">();

export type RemoteHref = z.infer<typeof remoteHref>;

/** What went wrong reading a remote input, and whether a later attempt may succeed. */
export class RemoteReadError extends Error {
	constructor(
		readonly href: string,
		readonly reason: string,
		readonly retryable: boolean,
		cause?: unknown,
	) {
		super(`${href}: ${reason}`, { cause });
		this.name = "RemoteReadError";
	}
}

const RETRYABLE_STATUSES = new Set([408, 429]);
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;
const TIFF_SIGNATURES = ["49492a00", "4d4d002a", "49492b00", "4d4d002b"];
const SIGNATURE_BYTES = 4;

interface RangedAnswer {
	bytes: ArrayBuffer;
	/** The file's size from Content-Range; null when the server does not say. */
	total: number | null;
}

/** One ranged GET: the bytes of exactly [offset, offset + length), or a RemoteReadError. */
async function getRange(href: RemoteHref, offset: number, length: number, timeoutMs: number): Promise<RangedAnswer> {
	let response: Response;
	try {
		response = await fetch(href, {
			headers: { range: `bytes=${offset}-${offset + length - 1}` },
			redirect: "follow",
			signal: AbortSignal.timeout(timeoutMs),
		});
	} catch (error) {
		if (error instanceof Error && error.name === "TimeoutError") {
			throw new RemoteReadError(href, `no answer within ${timeoutMs} ms`, true, error);
		}
		const detail = error instanceof Error ? error.message : String(error);
		throw new RemoteReadError(href, `unreachable (${detail})`, false, error);
	}
	if (response.status !== 206) {
		await response.body?.cancel();
		throw statusError(href, response.status);
	}
	const range = CONTENT_RANGE.exec(response.headers.get("content-range") ?? "");
	if (!range || Number(range[1]) !== offset || Number(range[2]) !== offset + length - 1) {
		await response.body?.cancel();
		throw new RemoteReadError(
			href,
			`answered bytes ${range?.[1]}-${range?.[2]} for ${offset}-${offset + length - 1}`,
			false,
		);
	}
	let bytes: ArrayBuffer;
	try {
		bytes = await response.arrayBuffer();
	} catch (error) {
		throw new RemoteReadError(href, "the connection broke off", true, error);
	}
	if (bytes.byteLength !== length) {
		throw new RemoteReadError(href, `sent ${bytes.byteLength} bytes for a range of ${length}`, true);
	}
	return { bytes, total: range[3] === "*" ? null : Number(range[3]) };
}

function statusError(href: string, status: number): RemoteReadError {
	if (status === 200) {
		return new RemoteReadError(
			href,
			"the server ignores Range requests; a remote input must support byte ranges",
			false,
		);
	}
	if (status === 404 || status === 410) return new RemoteReadError(href, `not found (HTTP ${status})`, false);
	if (status === 416) return new RemoteReadError(href, "the file is empty (HTTP 416)", false);
	return new RemoteReadError(href, `answered HTTP ${status}`, status >= 500 || RETRYABLE_STATUSES.has(status));
}

/**
 * Checks that a remote input can be read as a COG: reachable, served with byte ranges, of a
 * stated size and starting with a TIFF signature. Returns its size in bytes.
 */
export async function probeRemote(href: RemoteHref, timeoutMs: number): Promise<number> {
	const { bytes, total } = await getRange(href, 0, SIGNATURE_BYTES, timeoutMs);
	if (total === null) throw new RemoteReadError(href, "the server does not state the file's size", false);
	const signature = Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
	if (!TIFF_SIGNATURES.includes(signature))
		throw new Error("not a TIFF file (it does not start with a TIFF signature)");
	return total;
}

export function remoteRangeReader(href: RemoteHref, size: number, timeoutMs: number): RangeReader {
	return {
		size,
		read: async (offset, length) => (await getRange(href, offset, length, timeoutMs)).bytes,
	};
}
