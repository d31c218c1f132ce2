/**
 * The job page (GET /v1/jobs/{id}/view): what a person wants to see of one job. The page itself
 * is served with no key, since a browser's navigation sends none; it asks for the key once,
 * keeps it in this tab's session storage (never in a URL) and calls the API with it: the job
 * (live while it runs), its trace as a Gantt chart, and its results: the histogram, preview and
 * statistics of an index job, each field's series of a zonal one. Bundled with uPlot by
 * `npm run build:docs` into build/assets/v1/view/, so nothing comes from a CDN.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./job-page.css";
import type { Job, OtlpSpan as Span, Statistics } from "../openapi/client/src/index";

const KEY_ITEM = "eo-edge.api-key";
const POLL_MS = 2000;
/** Charts drawn for a field job's series; the table lists every field. */
const MAX_FIELD_CHARTS = 12;

const COLOURS = { ok: "#1a9850", retry: "#fdae61", failed: "#d73027", open: "#9e9e9e" } as const;

interface ZoneStatistics {
	datetime?: string | null;
	count: number;
	valid_fraction: number | null;
	mean: number | null;
	min: number | null;
	max: number | null;
	percentiles: Record<string, number | null>;
}

interface Zone {
	id?: string | number;
	properties: { statistics?: ZoneStatistics; series?: ZoneStatistics[] } & Record<string, unknown>;
}

const jobId = decodeURIComponent(location.pathname.split("/")[3] ?? "");
const root = element("main");
document.body.append(header(), root);

function element<K extends keyof HTMLElementTagNameMap>(
	tag: K,
	attributes: Record<string, string> = {},
	...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
	const node = document.createElement(tag);
	for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
	node.append(...children);
	return node;
}

function header(): HTMLElement {
	return element("header", {}, element("h1", {}, "EO Edge"), element("span", {}, `job ${jobId}`));
}

function section(title: string, id: string, ...children: (Node | string)[]): HTMLElement {
	const existing = document.getElementById(id);
	const node = element("section", { id }, element("h2", {}, title), ...children);
	if (existing) existing.replaceWith(node);
	else root.append(node);
	return node;
}

const format = (value: number | null | undefined) =>
	value === null || value === undefined ? "–" : Number.isInteger(value) ? String(value) : value.toPrecision(6);

function table(rows: [string, string][]): HTMLTableElement {
	return element(
		"table",
		{},
		...rows.map(([name, value]) => element("tr", {}, element("th", {}, name), element("td", {}, value))),
	);
}

class KeyRefused extends Error {}

async function call(path: string): Promise<Response> {
	const key = sessionStorage.getItem(KEY_ITEM) ?? "";
	const response = await fetch(path, { headers: { authorization: `Bearer ${key}` } });
	if (response.status === 401 || response.status === 403)
		throw new KeyRefused(`the key was refused (${response.status})`);
	return response;
}

/** A call answered with a problem: its detail (or the status) is what the page shows. */
class CallFailed extends Error {}

async function callOk(path: string): Promise<Response> {
	const response = await call(path);
	if (!response.ok) {
		const problem = (await response.json().catch(() => ({}))) as { detail?: string };
		throw new CallFailed(problem.detail ?? `HTTP ${response.status}`);
	}
	return response;
}

function askForKey(reason: string | null): void {
	root.replaceChildren();
	const input = element("input", { type: "password", name: "key", autocomplete: "off", placeholder: "eoe_…" });
	const form = element(
		"form",
		{ id: "key-form" },
		element("label", {}, "API key with jobs:read ", input),
		element("button", { type: "submit" }, "Show the job"),
	);
	form.addEventListener("submit", (event) => {
		event.preventDefault();
		sessionStorage.setItem(KEY_ITEM, input.value.trim());
		void show();
	});
	section(
		"Key",
		"key",
		element("p", { class: "muted" }, "The key stays in this tab's session storage and is sent only to this API."),
		...(reason ? [element("p", { class: "problem" }, reason)] : []),
		form,
	);
}

function renderStatus(job: Job): void {
	const status = element("span", { class: `status ${job.status}`, "data-testid": "status" }, job.status);
	const progress = element("progress", { max: "1", value: String(job.progress) });
	const usage = Object.entries(job.usage).map(
		([name, value]) => [name.replaceAll("_", " "), format(value)] as [string, string],
	);
	section(
		"Status",
		"status",
		element("p", {}, status, " ", job.stage ? `at ${job.stage} ` : "", progress, ` ${Math.round(job.progress * 100)}%`),
		table([
			["process", job.process],
			["index", job.index],
			["expression", job.expression ?? "–"],
			["created", job.created_at],
			["updated", job.updated_at],
			["trace id", job.trace_id],
			...usage,
		]),
		...(job.error
			? [
					element(
						"p",
						{ class: "problem", "data-testid": "problem" },
						`${job.error.title}: ${job.error.detail}`,
						...(job.error.errors ?? []).map((error) => `\n${error.path}: ${error.message}`),
					),
				]
			: []),
		...job.warnings.map((warning) => element("p", { class: "problem" }, `warning ${warning.code}: ${warning.message}`)),
	);
}

function spanColour(span: Span): string {
	if (span.attributes.some((attribute) => attribute.key === "eo.unfinished")) return COLOURS.open;
	if (span.status.code !== 2) return COLOURS.ok;
	return span.events.some((event) => event.name === "retrying") ? COLOURS.retry : COLOURS.failed;
}

/** One bar per delivery (stage attempt, window, part) along time, coloured by how it ended. */
function renderGantt(spans: Span[]): void {
	const deliveries = spans
		.filter((span) => span.kind === 5)
		.sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
	const ns = "http://www.w3.org/2000/svg";
	const rowHeight = 14;
	const labelWidth = 170;
	const width = 900;
	const svg = document.createElementNS(ns, "svg");
	svg.setAttribute("width", String(labelWidth + width + 10));
	svg.setAttribute("height", String(Math.max(1, deliveries.length) * rowHeight + 20));
	svg.setAttribute("data-testid", "gantt");
	const first = deliveries[0];
	if (first) {
		const start = BigInt(first.startTimeUnixNano);
		const end = deliveries.reduce((latest, span) => {
			const spanEnd = BigInt(span.endTimeUnixNano);
			return spanEnd > latest ? spanEnd : latest;
		}, start + 1_000_000n);
		const scale = width / Number(end - start);
		deliveries.forEach((span, row) => {
			const y = row * rowHeight;
			const label = document.createElementNS(ns, "text");
			label.setAttribute("x", "0");
			label.setAttribute("y", String(y + rowHeight - 3));
			label.setAttribute("font-size", "11");
			label.textContent = span.name;
			const bar = document.createElementNS(ns, "rect");
			const x = Number(BigInt(span.startTimeUnixNano) - start) * scale;
			const length = Math.max(2, Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) * scale);
			bar.setAttribute("x", String(labelWidth + x));
			bar.setAttribute("y", String(y + 2));
			bar.setAttribute("width", String(length));
			bar.setAttribute("height", String(rowHeight - 4));
			bar.setAttribute("fill", spanColour(span));
			bar.setAttribute("data-testid", "gantt-bar");
			const title = document.createElementNS(ns, "title");
			const ms = Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
			title.textContent = `${span.name}: ${ms.toFixed(0)} ms${span.status.message ? ` — ${span.status.message}` : ""}`;
			bar.append(title);
			svg.append(label, bar);
		});
	}
	const legend = element(
		"p",
		{ class: "legend" },
		...Object.entries({
			succeeded: COLOURS.ok,
			retried: COLOURS.retry,
			failed: COLOURS.failed,
			"still open": COLOURS.open,
		}).map(([name, colour]) => {
			const swatch = element("i");
			swatch.style.background = colour;
			return element("span", {}, swatch, name);
		}),
	);
	section(
		"Stages and windows",
		"gantt-section",
		legend,
		deliveries.length === 0 ? element("p", { class: "muted" }, "Nothing has run yet.") : svg,
	);
}

function chartWidth(): number {
	return Math.min(900, root.clientWidth - 40);
}

function renderIndexResults(statistics: Statistics, previewUrl: string | null): void {
	const { edges, counts } = statistics.histogram;
	const centres = counts.map((_, i) => ((edges[i] ?? 0) + (edges[i + 1] ?? 0)) / 2);
	const chart = element("div", { "data-testid": "histogram" });
	section(
		"Values",
		"values",
		chart,
		table([
			["count", format(statistics.count)],
			["nodata", format(statistics.nodata_count)],
			["masked", format(statistics.masked_count)],
			["min", format(statistics.min)],
			["max", format(statistics.max)],
			["mean", format(statistics.mean)],
			["std", format(statistics.std)],
			...Object.entries(statistics.percentiles).map(([name, value]) => [name, format(value)] as [string, string]),
		]),
		...(previewUrl
			? [element("img", { class: "preview", src: previewUrl, alt: "preview", "data-testid": "preview" })]
			: []),
	);
	new uPlot(
		{
			width: chartWidth(),
			height: 220,
			scales: { x: { time: false } },
			series: [
				{ label: "value" },
				{ label: "pixels", fill: "#1a985055", stroke: COLOURS.ok, paths: uPlot.paths.bars?.({ size: [1, Infinity] }) },
			],
		},
		[centres, counts],
		chart,
	);
}

function renderZones(zones: Zone[]): void {
	const series = zones.filter((zone) => Array.isArray(zone.properties.series));
	const charts = element("div", { "data-testid": "field-charts" });
	const rows = zones.flatMap((zone) => {
		const dated = zone.properties.series ?? (zone.properties.statistics ? [zone.properties.statistics] : []);
		return dated.map((entry) =>
			element(
				"tr",
				{},
				...[
					String(zone.id ?? ""),
					entry.datetime ?? "",
					format(entry.count),
					format(entry.valid_fraction),
					format(entry.mean),
					format(entry.percentiles.p2),
					format(entry.percentiles.p98),
				].map((text) => element("td", {}, text)),
			),
		);
	});
	section(
		"Fields",
		"fields",
		charts,
		element(
			"table",
			{ "data-testid": "field-table" },
			element(
				"tr",
				{},
				...["field", "datetime", "count", "valid fraction", "mean", "p2", "p98"].map((name) => element("th", {}, name)),
			),
			...rows,
		),
	);
	for (const zone of series.slice(0, MAX_FIELD_CHARTS)) {
		const entries = zone.properties.series ?? [];
		const chart = element("div", {});
		charts.append(element("p", {}, `field ${String(zone.id ?? "")}`), chart);
		const nullable = (value: number | null | undefined) => (value === null || value === undefined ? null : value);
		new uPlot(
			{
				width: chartWidth(),
				height: 180,
				series: [
					{},
					{ label: "p2", stroke: "#a6d96a" },
					{ label: "mean", stroke: COLOURS.ok, width: 2 },
					{ label: "p98", stroke: "#a6d96a" },
				],
				bands: [{ series: [3, 1], fill: "#a6d96a44" }],
			},
			[
				entries.map((entry) => Date.parse(entry.datetime ?? "") / 1000),
				entries.map((entry) => nullable(entry.percentiles.p2)),
				entries.map((entry) => nullable(entry.mean)),
				entries.map((entry) => nullable(entry.percentiles.p98)),
			],
			chart,
		);
	}
}

async function renderResults(job: Job): Promise<void> {
	const names = new Set(job.artifacts.map((artifact) => artifact.name));
	if (names.has("stats.json")) {
		const statistics = (await (await callOk(`/v1/jobs/${jobId}/artifacts/stats.json`)).json()) as Statistics;
		const preview = names.has("preview.png")
			? URL.createObjectURL(await (await callOk(`/v1/jobs/${jobId}/artifacts/preview.png`)).blob())
			: null;
		renderIndexResults(statistics, preview);
	}
	if (names.has("zones.geojson")) {
		const collection = (await (await callOk(`/v1/jobs/${jobId}/artifacts/zones.geojson`)).json()) as {
			features: Zone[];
		};
		renderZones(collection.features);
	}
}

async function show(): Promise<void> {
	try {
		const response = await callOk(`/v1/jobs/${jobId}`);
		document.getElementById("key")?.remove();
		const job = (await response.json()) as Job;
		renderStatus(job);
		const trace = (await (await callOk(`/v1/jobs/${jobId}/trace`)).json()) as {
			resourceSpans: { scopeSpans: { spans: Span[] }[] }[];
		};
		renderGantt(trace.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)));
		if (job.status === "queued" || job.status === "running") {
			setTimeout(() => void show(), POLL_MS);
			return;
		}
		if (job.status === "succeeded") await renderResults(job);
		document.body.dataset.ready = "true";
	} catch (error) {
		if (error instanceof KeyRefused) {
			sessionStorage.removeItem(KEY_ITEM);
			askForKey(`${error.message}: give a key of this job's tenant with the jobs:read scope.`);
			return;
		}
		const reason = error instanceof CallFailed ? error.message : String(error);
		section("Job", "status", element("p", { class: "problem" }, `Could not read the job: ${reason}`));
	}
}

if (sessionStorage.getItem(KEY_ITEM)) void show();
else askForKey(null);
