/**
 * Remote inputs: Cloud-Optimized GeoTIFFs read over HTTPS by byte ranges. This is the only
 * module that fetches a URL a client gave, and it only fetches a {@link RemoteHref}, which
 * exists only as the output of the zod schema below (HTTPS, no credentials, a public host).
 *
 * Redirects are followed here, one hop at a time, and each Location is checked like the URL
 * itself (and against the allowlists), so a public URL cannot bounce a read to a private
 * address. Every answer is bounded: a body longer than the range asked for is refused, and a
 * reader stops after a total byte budget.
 *
 * A job reads one version of each remote file: ingest records its size and strong ETag, and
 * every later read asks for that version (If-Match) and checks the size, so a file replaced
 * during a job fails it rather than mixing two versions into one result.
 *
 * Failures are sorted by whether waiting can help: a 5xx, 408, 429 or any network-level failure
 * (refused, reset, DNS, timeout) throws a retryable {@link RemoteReadError}; a 404, any other
 * answer, a refused redirect or a server that ignores Range (it would send the whole file, which
 * is refused unread) cannot improve by retrying.
 *
 * Local development (ALLOW_LOOPBACK_URLS, never set in wrangler.toml) may also fetch
 * http(s)://127.0.0.1:<port> and http(s)://localhost:<port>, a partner's own server; nothing else
 * changes (private ranges, metadata addresses and plain HTTP to any other host stay refused).
 * The schema lets such URLs through, and every check that knows the env (submission, each fetch
 * and each redirect) refuses them unless the flag is on.
 *
 * Besides COGs by ranges, this module fetches bounded JSON documents (STAC items and search
 * pages, src/stac/) through the same checks, hop by hop, with a byte cap, and POSTs webhook
 * deliveries (src/webhooks/delivery.ts) to a tenant's endpoint, never following a redirect.
 *
 * What a tenant learns about a host is the HTTP status it answered, or "unreachable" for every
 * network-level failure, with no error text: a job's errors must not tell open ports from closed
 * ones or map hosts. The error's message and cause keep the detail for the logs.
 */
import { z } from "zod";
import { RasterInputError } from "./input-errors";
import type { RangeReader } from "./ranged-source";
import { hostAllowed, hostRefusal } from "./remote-hosts";
import { hasTiffSignature, TIFF_SIGNATURE_BYTES } from "./tiff-structure";

const MAX_HREF_LENGTH = 2048;
/** Hops followed per read; archives redirect once (e.g. to a signed URL), never in chains. */
export const MAX_REDIRECTS = 5;

/** Names of this machine that local development may fetch, as `URL.hostname` gives them. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** A URL of the developer's own machine: http(s) to 127.0.0.1 or localhost, without credentials. */
export function isLoopbackUrl(url: URL): boolean {
	return (
		(url.protocol === "http:" || url.protocol === "https:") &&
		LOOPBACK_HOSTS.has(url.hostname) &&
		url.username === "" &&
		url.password === ""
	);
}

/** ALLOW_LOOPBACK_URLS, for local development only: absent (false) in every deployed config. */
export function loopbackAllowed(env: Pick<Env, "ALLOW_LOOPBACK_URLS">): boolean {
	return env.ALLOW_LOOPBACK_URLS === true || env.ALLOW_LOOPBACK_URLS === "true";
}

/** What a loopback URL is told when the flag is off. */
const LOOPBACK_REFUSAL =
	"must name a public host (a loopback address is allowed only with ALLOW_LOOPBACK_URLS, in local development)";

/** Why a URL may not be fetched whatever the allowlists say, or null. */
function urlRefusal(url: URL, allowLoopback: boolean): string | null {
	if (isLoopbackUrl(url)) return allowLoopback ? null : LOOPBACK_REFUSAL;
	if (url.protocol !== "https:") return "must be an https:// URL";
	if (url.username !== "" || url.password !== "") return "must not carry credentials";
	const refused = hostRefusal(url.hostname);
	return refused ? `must name a public host (${url.hostname} is a ${refused})` : null;
}

/**
 * A URL a client gives for EO Edge to fetch: HTTPS to a public host, or a loopback URL, which
 * only the env-aware checks ({@link remoteUrlRefusal}) can allow.
 */
export const remoteHref = z
	.url({ protocol: /^https?$/, error: "must be an https:// URL" })
	.max(MAX_HREF_LENGTH)
	.superRefine((href, context) => {
		// Zod runs this check after a failed url check too: such an href was reported there.
		const url = URL.parse(href);
		if (!url || isLoopbackUrl(url)) return;
		const refused = urlRefusal(url, false);
		if (refused) context.addIssue({ code: "custom", message: refused });
	})
	.brand<"RemoteHref">();

export type RemoteHref = z.infer<typeof remoteHref>;

/** What a job may fetch: whose hosts, and for how long per read. */
export interface RemoteAccess {
	timeoutMs: number;
	/** Every list here (the operator's REMOTE_ALLOWED_HOSTS, the job's allowed_hosts) must allow a host. */
	allowlists: readonly (readonly string[])[];
	/** ALLOW_LOOPBACK_URLS: local development may fetch its own machine. */
	allowLoopback: boolean;
}

/**
 * The bytes a job may still fetch from its remote inputs, over every reader and invocation
 * (src/raster/remote-budget.ts): `take` resolves false when `length` more would pass `limit`.
 */
export interface RemoteByteBudget {
	limit: number;
	take(length: number): Promise<boolean>;
}

/** The operator's allowlist: REMOTE_ALLOWED_HOSTS, comma-separated; empty allows any public host. */
export function operatorAllowlist(env: Env): string[] | null {
	const hosts = env.REMOTE_ALLOWED_HOSTS.split(",")
		.map((host) => host.trim())
		.filter((host) => host !== "");
	return hosts.length > 0 ? hosts : null;
}

export function remoteAccess(env: Env, jobAllowedHosts: readonly string[] | null | undefined): RemoteAccess {
	const operator = operatorAllowlist(env);
	return {
		timeoutMs: env.REMOTE_READ_TIMEOUT_MS,
		allowlists: [operator, jobAllowedHosts].filter((list): list is readonly string[] => list != null),
		allowLoopback: loopbackAllowed(env),
	};
}

/**
 * Why a URL (the client's or a redirect's) may not be fetched under `access`'s allowlists, or
 * null. A loopback URL that the flag allows is the developer's own and passes the allowlists.
 */
export function remoteUrlRefusal(url: URL, access: Pick<RemoteAccess, "allowlists" | "allowLoopback">): string | null {
	const refused = urlRefusal(url, access.allowLoopback);
	if (refused) return refused;
	const { allowlists } = access;
	const outside = allowlists.find((allowlist) => !hostAllowed(url.hostname, allowlist));
	return outside ? `${url.hostname} is not among the allowed hosts (${outside.join(", ")})` : null;
}

/**
 * What went wrong reading a remote input, and whether a later attempt may succeed. `reason` is
 * for the tenant; `internal` (and the cause) only for the logs.
 */
export class RemoteReadError extends Error {
	constructor(
		readonly href: string,
		readonly reason: string,
		readonly retryable: boolean,
		cause?: unknown,
		internal?: string,
	) {
		super(`${href}: ${reason}${internal ? ` (${internal})` : ""}`, { cause });
		this.name = "RemoteReadError";
	}
}

/** The one answer a tenant gets for a network-level failure, whatever it was. */
export const UNREACHABLE = "unreachable";

const RETRYABLE_STATUSES = new Set([408, 429]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

interface RangedAnswer {
	bytes: ArrayBuffer;
	/** The file's size from Content-Range; null when the server does not say. */
	total: number | null;
	etag: string | null;
}

/** A request's method and body; a GET without one. */
interface RequestBody {
	method: "GET" | "POST";
	body?: string;
}

/**
 * One request, following redirects by hand so each hop's target is checked before it is asked.
 * A 307 or 308 repeats the method and body; any other redirect continues with a GET.
 */
async function fetchChecked(
	href: RemoteHref,
	headers: HeadersInit,
	access: RemoteAccess,
	request: RequestBody = { method: "GET" },
): Promise<Response> {
	let url = new URL(href);
	let init = request;
	const refusedHref = remoteUrlRefusal(url, access);
	if (refusedHref) throw new RemoteReadError(href, `refused: ${refusedHref}`, false);
	for (let hop = 0; ; hop++) {
		let response: Response;
		try {
			response = await fetch(url, {
				method: init.method,
				headers,
				...(init.body === undefined ? {} : { body: init.body }),
				redirect: "manual",
				signal: AbortSignal.timeout(access.timeoutMs),
			});
		} catch (error) {
			const timedOut = error instanceof Error && error.name === "TimeoutError";
			const internal = timedOut
				? `no answer from ${url.host} within ${access.timeoutMs} ms`
				: `fetching ${url.href} failed`;
			throw new RemoteReadError(href, UNREACHABLE, true, error, internal);
		}
		if (!REDIRECT_STATUSES.has(response.status)) return response;
		await response.body?.cancel();
		const location = response.headers.get("location");
		if (hop === MAX_REDIRECTS) {
			throw new RemoteReadError(href, `redirected more than ${MAX_REDIRECTS} times`, false);
		}
		if (location === null)
			throw new RemoteReadError(href, `answered HTTP ${response.status} without a Location`, false);
		let next: URL;
		try {
			next = new URL(location, url);
		} catch {
			throw new RemoteReadError(href, `redirected to an invalid location (${location})`, false);
		}
		const refused = remoteUrlRefusal(next, access);
		if (refused) throw new RemoteReadError(href, `redirect to ${next.href} refused: ${refused}`, false);
		url = next;
		if (response.status !== 307 && response.status !== 308) init = { method: "GET" };
	}
}

/**
 * Feeds the body to `take` chunk by chunk, refused as soon as it runs past `limit` bytes (or
 * announces more): a server cannot make us hold more. Returns the bytes received.
 */
async function readBounded(
	href: string,
	response: Response,
	limit: number,
	refusal: { announced: (declared: string) => string; sent: string },
	take: (chunk: Uint8Array, at: number) => void,
): Promise<number> {
	const declared = response.headers.get("content-length");
	if (declared !== null && Number(declared) > limit) {
		await response.body?.cancel();
		throw new RemoteReadError(href, refusal.announced(declared), false);
	}
	let received = 0;
	const reader = response.body?.getReader();
	try {
		for (;;) {
			const chunk = reader ? await reader.read() : { done: true as const, value: undefined };
			if (chunk.done) break;
			if (received + chunk.value.byteLength > limit) {
				await reader?.cancel();
				throw new RemoteReadError(href, refusal.sent, false);
			}
			take(chunk.value, received);
			received += chunk.value.byteLength;
		}
	} catch (error) {
		if (error instanceof RemoteReadError) throw error;
		throw new RemoteReadError(href, UNREACHABLE, true, error, "the connection broke off");
	}
	return received;
}

/** The body of a ranged answer: exactly `length` bytes. */
async function readAtMost(href: string, response: Response, length: number): Promise<ArrayBuffer> {
	const bytes = new Uint8Array(length);
	const refusal = {
		announced: (declared: string) => `announced ${declared} bytes for a range of ${length}`,
		sent: `sent more than the ${length} bytes of its range`,
	};
	const received = await readBounded(href, response, length, refusal, (chunk, at) => bytes.set(chunk, at));
	if (received !== length) {
		throw new RemoteReadError(href, `sent ${received} bytes for a range of ${length}`, true);
	}
	return bytes.buffer;
}

/** The version of a remote file a job reads: its size and, when the server gives one, strong ETag. */
export interface RemoteVersion {
	bytes: number;
	etag: string | null;
}

/** One ranged GET: the bytes of exactly [offset, offset + length), or a RemoteReadError. */
async function getRange(
	href: RemoteHref,
	offset: number,
	length: number,
	access: RemoteAccess,
	etag: string | null = null,
): Promise<RangedAnswer> {
	const headers: Record<string, string> = { range: `bytes=${offset}-${offset + length - 1}` };
	if (etag !== null) headers["if-match"] = etag;
	const response = await fetchChecked(href, headers, access);
	if (response.status === 412 && etag !== null) {
		await response.body?.cancel();
		throw changed(href, `its ETag is no longer ${etag}`);
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
	const bytes = await readAtMost(href, response, length);
	return { bytes, total: range[3] === "*" ? null : Number(range[3]), etag: strongEtag(response) };
}

/** The response's ETag when it is strong: a weak one (W/) does not promise the same bytes. */
function strongEtag(response: Response): string | null {
	const etag = response.headers.get("etag");
	return etag !== null && !etag.startsWith("W/") ? etag : null;
}

function changed(href: string, how: string): RemoteReadError {
	return new RemoteReadError(href, `the file changed since the job started (${how})`, false);
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
 * stated size and starting with a TIFF signature. Returns the version every later read pins.
 */
export async function probeRemote(href: RemoteHref, access: RemoteAccess): Promise<RemoteVersion> {
	const { bytes, total, etag } = await getRange(href, 0, TIFF_SIGNATURE_BYTES, access);
	if (total === null) throw new RemoteReadError(href, "the server does not state the file's size", false);
	if (!hasTiffSignature(new Uint8Array(bytes)))
		throw new RasterInputError("invalid-raster", "not a TIFF file (it does not start with a TIFF signature)");
	return { bytes: total, etag };
}

/**
 * Ranged reads of one version of a remote file, refused once they would pass the job's byte
 * budget, or once the server answers for another version (another ETag or size).
 */
export function remoteRangeReader(
	href: RemoteHref,
	version: RemoteVersion,
	access: RemoteAccess,
	budget: RemoteByteBudget,
): RangeReader {
	return {
		size: version.bytes,
		async read(offset, length) {
			if (!(await budget.take(length))) {
				throw new RemoteReadError(
					href,
					`the job's reads of its remote inputs would pass REMOTE_MAX_BYTES_PER_JOB (${budget.limit} bytes)`,
					false,
				);
			}
			const answer = await getRange(href, offset, length, access, version.etag);
			// Servers that ignore If-Match still say which version they sent.
			if (version.etag !== null && answer.etag !== null && answer.etag !== version.etag) {
				throw changed(href, `its ETag is now ${answer.etag}, not ${version.etag}`);
			}
			if (answer.total !== null && answer.total !== version.bytes) {
				throw changed(href, `it is ${answer.total} bytes long, not ${version.bytes}`);
			}
			return answer.bytes;
		},
	};
}

/**
 * GETs (or POSTs `body` to) `href` and parses its JSON answer, refused once it runs past
 * `maxBytes`: catalogs' items and search pages are small, and a server cannot make us hold more.
 * Failures are RemoteReadErrors, retryable as a ranged read's are; a body that is not JSON is
 * not, and is said so.
 */
export async function fetchRemoteJson(
	href: RemoteHref,
	access: RemoteAccess,
	maxBytes: number,
	body?: unknown,
): Promise<unknown> {
	const request: RequestBody = body === undefined ? { method: "GET" } : { method: "POST", body: JSON.stringify(body) };
	const headers: Record<string, string> = { accept: "application/geo+json, application/json" };
	if (body !== undefined) headers["content-type"] = "application/json";
	const response = await fetchChecked(href, headers, access, request);
	if (response.status !== 200) {
		await response.body?.cancel();
		if (response.status === 404 || response.status === 410)
			throw new RemoteReadError(href, `not found (HTTP ${response.status})`, false);
		throw new RemoteReadError(
			href,
			`answered HTTP ${response.status}`,
			response.status >= 500 || RETRYABLE_STATUSES.has(response.status),
		);
	}
	const bytes = await readUpTo(href, response, maxBytes);
	try {
		return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) as unknown;
	} catch (error) {
		throw new RemoteReadError(href, "did not answer with JSON", false, error);
	}
}

/** The whole body, refused as soon as it runs past `maxBytes`. */
async function readUpTo(href: string, response: Response, maxBytes: number): Promise<Uint8Array> {
	const tooLarge = `answered more than ${maxBytes} bytes`;
	const chunks: Uint8Array<ArrayBuffer>[] = [];
	await readBounded(href, response, maxBytes, { announced: () => tooLarge, sent: tooLarge }, (chunk) => {
		chunks.push(new Uint8Array(chunk));
	});
	return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

/** What a webhook receiver did with a POST: answered (with its status), or nothing reachable. */
export type WebhookAnswer = { kind: "answered"; status: number } | { kind: "unreachable" };

/**
 * POSTs a webhook delivery to a tenant's endpoint, checked like any URL a client gives (public
 * host, no credentials; loopback only with `allowLoopback`). A redirect is answered as it is, never
 * followed: it could lead anywhere, private addresses included. Every network-level failure,
 * and no answer within `timeoutMs`, is "unreachable", with no error text; the body is not read.
 */
export async function postWebhook(
	href: string,
	init: { headers: Record<string, string>; body: string },
	access: { timeoutMs: number; allowLoopback: boolean },
): Promise<WebhookAnswer | { kind: "refused"; reason: string }> {
	const refused = urlRefusal(new URL(href), access.allowLoopback);
	if (refused) return { kind: "refused", reason: refused };
	try {
		const response = await fetch(href, {
			method: "POST",
			headers: init.headers,
			body: init.body,
			redirect: "manual",
			signal: AbortSignal.timeout(access.timeoutMs),
		});
		await response.body?.cancel();
		return { kind: "answered", status: response.status };
	} catch {
		return { kind: "unreachable" };
	}
}
