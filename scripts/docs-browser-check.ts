/**
 * Loads GET /v1/docs of a running API in headless Chromium (Debian's `chromium`, driven by
 * playwright-core) and checks what a partner sees: every operation of the document rendered,
 * no console errors, no request leaving the API's origin (partners may be offline). Saves a
 * screenshot. Used by scripts/e2e.ts; on its own: tsx scripts/docs-browser-check.ts <api> <png>.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface DocsCheck {
	label: string;
	ok: boolean;
	detail: string;
}

/** Debian's headless Chromium, kept from dialling home: the machine has no route out. */
export async function launchChromium(): Promise<Browser> {
	if (!existsSync(CHROMIUM_PATH)) {
		throw new Error(`no Chromium at ${CHROMIUM_PATH} (Debian: apt-get install -y chromium, or set CHROMIUM_PATH)`);
	}
	return chromium.launch({
		executablePath: CHROMIUM_PATH,
		args: [
			"--no-sandbox",
			"--disable-gpu",
			"--disable-quic",
			"--no-first-run",
			"--disable-background-networking",
			"--disable-component-update",
			"--disable-sync",
		],
	});
}

/**
 * What a page does wrong as it runs: console errors, uncaught exceptions and 4xx/5xx answers,
 * and every request that leaves the API's origin (partners may be offline).
 */
export function watchPage(page: Page, api: string): { consoleErrors: string[]; foreignRequests: string[] } {
	const consoleErrors: string[] = [];
	const foreignRequests: string[] = [];
	const origin = new URL(api).origin;
	page.on("console", (message) => {
		if (message.type() === "error") consoleErrors.push(`${message.text()} (${message.location().url})`);
	});
	page.on("response", (answer) => {
		if (answer.status() >= 400) consoleErrors.push(`HTTP ${answer.status()} for ${answer.url()}`);
	});
	page.on("pageerror", (error) => consoleErrors.push(error.message));
	page.on("request", (request) => {
		const url = request.url();
		if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) foreignRequests.push(url);
	});
	return { consoleErrors, foreignRequests };
}

export async function checkDocsPage(api: string, screenshotPath: string): Promise<DocsCheck[]> {
	const document = (await (await fetch(`${api}/v1/openapi.json`)).json()) as {
		paths: Record<string, Record<string, { summary?: string }>>;
	};
	const summaries = Object.values(document.paths).flatMap((methods) =>
		Object.values(methods).map((operation) => operation.summary ?? ""),
	);
	const browser = await launchChromium();
	try {
		const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
		const { consoleErrors, foreignRequests } = watchPage(page, api);
		const response = await page.goto(`${api}/v1/docs`, { waitUntil: "networkidle" });
		const missing: string[] = [];
		for (const summary of summaries) {
			try {
				await page.getByText(summary, { exact: true }).first().waitFor({ state: "attached", timeout: 15_000 });
			} catch {
				missing.push(summary);
			}
		}
		await page.screenshot({ path: screenshotPath, fullPage: false });
		return [
			{ label: "GET /v1/docs: 200", ok: response?.status() === 200, detail: String(response?.status()) },
			{
				label: `the page renders all ${summaries.length} operations`,
				ok: summaries.length > 0 && missing.length === 0,
				detail: `missing: ${missing.join(", ")}`,
			},
			{ label: "no console errors", ok: consoleErrors.length === 0, detail: consoleErrors.join(" | ") },
			{
				label: "nothing fetched from outside the API",
				ok: foreignRequests.length === 0,
				detail: foreignRequests.join(", "),
			},
		];
	} finally {
		await browser.close();
	}
}

if (import.meta.filename === process.argv[1]) {
	const [api = "http://localhost:8787", screenshot = "docs.png"] = process.argv.slice(2);
	const results = await checkDocsPage(api, screenshot);
	for (const { label, ok, detail } of results)
		console.log(`${ok ? "ok  " : "FAIL"} ${label}${ok ? "" : `: ${detail}`}`);
	console.log(`screenshot: ${screenshot}`);
	process.exitCode = results.every((result) => result.ok) ? 0 : 1;
}
