/**
 * A partner's page on another origin calls the API with a key, in headless Chromium: a small
 * node:http server on another port of 127.0.0.1 serves scripts/fixtures/partner-page and the
 * sample bands, and the page uploads (in one request and in parts), submits NDVI with an
 * Idempotency-Key, polls, and downloads with a Range header (see its client.js). Its keyed
 * requests need CORS preflights, and it reads the exposed headers; any console error, page
 * error, failed request or HTTP error fails the check. Used by scripts/e2e.ts; on its own:
 * tsx scripts/browser-client-check.ts <api> <key>.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import type { ManifestCase } from "../test/fixtures/manifest";
import { type DocsCheck as BrowserCheck, launchChromium } from "./docs-browser-check";

const ROOT = join(import.meta.dirname, "..");
const PAGE = join(ROOT, "scripts", "fixtures", "partner-page");
const SAMPLES = new Set(["s2_red_256.tif", "s2_nir_256.tif"]);
const PAGE_TIMEOUT_MS = 120_000;

export interface PartnerPageResult {
	uploadLocation: string | null;
	rateLimitRemaining: string | null;
	jobId: string;
	jobLocation: string | null;
	replayed: string | null;
	replayedId: string;
	status: string;
	retryAfter: string | null;
	contentRange: string | null;
	etag: string | null;
	signature: number[];
	traceparent: string | null;
	count: number;
}

/** The page and the sample bands from their own origin; anything else is 404. */
function servePage() {
	const files: Record<string, [string, string]> = {
		"/": [join(PAGE, "index.html"), "text/html; charset=utf-8"],
		"/client.js": [join(PAGE, "client.js"), "text/javascript; charset=utf-8"],
		...Object.fromEntries(
			[...SAMPLES].map((name) => [`/samples/${name}`, [join(ROOT, "samples", name), "image/tiff"]]),
		),
	};
	return createServer((request, response) => {
		const file = files[new URL(request.url ?? "/", "http://page").pathname];
		if (!file) {
			response.writeHead(404).end();
			return;
		}
		response.writeHead(200, { "content-type": file[1] }).end(readFileSync(file[0]));
	});
}

/** Runs the page against `api` with `key`; returns the labelled checks and what the page reported. */
export async function checkBrowserClient(
	api: string,
	key: string,
	expectedCount: number,
): Promise<{ checks: BrowserCheck[]; result: PartnerPageResult | null }> {
	const browser = await launchChromium();
	const server = servePage();
	try {
		server.listen(0, "127.0.0.1");
		await once(server, "listening");
		const address = server.address();
		if (address === null || typeof address === "string") throw new Error("the page server has no port");
		const pageOrigin = `http://127.0.0.1:${address.port}`;
		const page = await browser.newPage();
		const problems: string[] = [];
		page.on("console", (message) => {
			if (message.type() === "error" || message.type() === "warning") problems.push(`console: ${message.text()}`);
		});
		page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
		page.on("requestfailed", (request) =>
			problems.push(`request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText}`),
		);
		page.on("response", (answer) => {
			if (answer.status() >= 400)
				problems.push(`HTTP ${answer.status()} for ${answer.request().method()} ${answer.url()}`);
		});
		await page.goto(`${pageOrigin}/#${new URLSearchParams({ api, key })}`);
		const report = page.locator("#report:not([data-state='running'])");
		await report.waitFor({ timeout: PAGE_TIMEOUT_MS });
		const state = await report.getAttribute("data-state");
		const text = (await report.textContent()) ?? "";
		const result = state === "done" ? (JSON.parse(text) as PartnerPageResult) : null;
		const checks: BrowserCheck[] = [
			{ label: `the page on ${pageOrigin} ran to the end`, ok: result !== null, detail: text },
			{
				label: "no console error, page error or failed request",
				ok: problems.length === 0,
				detail: problems.join(" | "),
			},
		];
		if (result) {
			const { jobId } = result;
			checks.push(
				{
					label: "the page read Location and RateLimit-Remaining of its upload",
					ok:
						result.uploadLocation?.startsWith("/v1/uploads/upl_") === true &&
						/^\d+$/.test(result.rateLimitRemaining ?? ""),
					detail: `${result.uploadLocation}, ${result.rateLimitRemaining}`,
				},
				{
					label: "Idempotency-Key: the second submit replayed the first (Idempotent-Replayed: true)",
					ok: result.replayed === "true" && result.replayedId === jobId && result.jobLocation === `/v1/jobs/${jobId}`,
					detail: JSON.stringify(result),
				},
				{ label: `job ${jobId} succeeded`, ok: result.status === "succeeded", detail: result.status },
				{
					label: "Range: 206 with Content-Range and ETag readable, a TIFF signature",
					ok:
						/^bytes 0-3\/\d+$/.test(result.contentRange ?? "") &&
						result.etag !== null &&
						result.signature[0] === 0x49 &&
						result.signature[1] === 0x49,
					detail: `${result.contentRange}, ${result.etag}, ${result.signature}`,
				},
				{
					label: `stats.json: count ${expectedCount}, traceparent readable`,
					ok: result.count === expectedCount && result.traceparent !== null,
					detail: `${result.count}, ${result.traceparent}`,
				},
			);
		}
		return { checks, result };
	} finally {
		await browser.close();
		server.close();
	}
}

if (import.meta.filename === process.argv[1]) {
	const [api = "http://localhost:8787", key = DEVELOPMENT_API_KEY] = process.argv.slice(2);
	const manifest = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "manifest.json"), "utf8")) as {
		cases: Record<string, ManifestCase>;
	};
	const expectedCount = manifest.cases.ndvi_s2_256?.stats.count ?? Number.NaN;
	const { checks } = await checkBrowserClient(api, key, expectedCount);
	for (const { label, ok, detail } of checks) console.log(`${ok ? "ok  " : "FAIL"} ${label}${ok ? "" : `: ${detail}`}`);
	process.exitCode = checks.every((check) => check.ok) ? 0 : 1;
}
