/**
 * Loads GET /v1/jobs/{id}/view of a running API in headless Chromium and checks what a person
 * sees: the page asks for the key and keeps it out of the URL, renders the job's status with no
 * console error and nothing fetched from elsewhere, draws one Gantt bar per stage attempt and
 * window of the job's trace, and shows the results of a succeeded job (histogram and preview of
 * an index job, the field table of a zonal one). Saves a screenshot. Used by scripts/e2e.ts.
 */
import { type DocsCheck, launchChromium, watchPage } from "./docs-browser-check";

export type Expected = "succeeded" | "failed" | "live";

interface TraceSpans {
	resourceSpans: { scopeSpans: { spans: { kind: number }[] }[] }[];
}

/** The queue deliveries (consumer spans: stage attempts and windows) in the job's trace so far. */
export async function deliverySpans(api: string, key: string, jobId: string): Promise<number> {
	const response = await fetch(`${api}/v1/jobs/${jobId}/trace`, { headers: { authorization: `Bearer ${key}` } });
	const trace = (await response.json()) as TraceSpans;
	return trace.resourceSpans
		.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans))
		.filter((span) => span.kind === 5).length;
}

export async function checkJobPage(
	api: string,
	key: string,
	job: { id: string; expected: Expected; results?: "index" | "zonal" },
	screenshotPath: string,
): Promise<DocsCheck[]> {
	const browser = await launchChromium();
	try {
		const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
		const { consoleErrors, foreignRequests } = watchPage(page, api);
		const response = await page.goto(`${api}/v1/jobs/${job.id}/view`, { waitUntil: "load" });
		await page.locator("#key-form input").fill(key);
		await page.locator("#key-form button").click();
		const status = page.getByTestId("status");
		await status.waitFor({ timeout: 15_000 });
		const shown = (await status.textContent()) ?? "";
		if (job.expected !== "live") await page.locator("body[data-ready=true]").waitFor({ timeout: 30_000 });
		await page.locator("#gantt-section").waitFor({ timeout: 15_000 });
		const bars = await page.getByTestId("gantt-bar").count();
		const deliveries = await deliverySpans(api, key, job.id);
		const checks: DocsCheck[] = [
			{
				label: "GET /v1/jobs/{id}/view without a key: 200",
				ok: response?.status() === 200,
				detail: String(response?.status()),
			},
			{
				label: `status shown: ${job.expected === "live" ? "queued or running" : job.expected}`,
				ok: job.expected === "live" ? shown === "queued" || shown === "running" : shown === job.expected,
				detail: shown,
			},
			{
				label: "the key is in session storage, not in the URL",
				ok: !page.url().includes(key) && (await page.evaluate(() => sessionStorage.getItem("eo-edge.api-key"))) === key,
				detail: page.url(),
			},
			{
				// A live job may add a delivery between the page's read and this one.
				label: `one Gantt bar per stage attempt and window (${bars})`,
				ok: job.expected === "live" ? bars > 0 && bars <= deliveries : bars === deliveries && bars > 0,
				detail: `${bars} bars, ${deliveries} delivery spans`,
			},
		];
		if (job.results === "index") {
			const histogram = await page.getByTestId("histogram").locator("canvas").count();
			const preview = await page.getByTestId("preview").evaluate((image) => (image as HTMLImageElement).naturalWidth);
			checks.push({
				label: "histogram and preview drawn",
				ok: histogram > 0 && preview > 0,
				detail: `${histogram} canvas, preview ${preview} px`,
			});
		}
		if (job.results === "zonal") {
			const rows = await page.getByTestId("field-table").locator("tr").count();
			checks.push({ label: `field table drawn (${rows - 1} rows)`, ok: rows > 1, detail: String(rows) });
		}
		if (job.expected === "failed") {
			const problem = (await page.getByTestId("problem").textContent()) ?? "";
			checks.push({ label: "the problem is shown", ok: problem.length > 0, detail: problem });
		}
		await page.screenshot({ path: screenshotPath, fullPage: true });
		checks.push(
			{ label: "no console errors", ok: consoleErrors.length === 0, detail: consoleErrors.join(" | ") },
			{
				label: "nothing fetched from outside the API",
				ok: foreignRequests.length === 0,
				detail: foreignRequests.join(", "),
			},
		);
		return checks;
	} finally {
		await browser.close();
	}
}
