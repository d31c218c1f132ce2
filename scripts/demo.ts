/**
 * `npm run demo`: what a partner's integration looks like, through the published client
 * (@eo-edge/client, built from openapi/client). Against a running `npm run dev` it uploads the
 * sample bands, submits NDVI, shows the job's progress until it ends, saves the artifacts to a
 * folder and prints the statistics; then stores the sample fields (samples/fields.geojson) as a
 * field set, runs NDVI per field over the same bands and prints each field's statistics.
 *
 * Webhooks: before the first job it starts a receiver on 127.0.0.1 and registers it for the
 * job's events; each delivery that arrives is verified with standardwebhooks' Webhook.verify and
 * printed, and the endpoint is deleted at the end. A loopback receiver needs a server started with
 * `npm run dev -- --var ALLOW_LOOPBACK_URLS:true`; without it the demo says so and goes on.
 *
 * Settings (environment): EO_EDGE_API (default http://localhost:8787), EO_EDGE_API_KEY (default
 * the local development key that `npm run dev` seeds), EO_EDGE_DEMO_DIR (default artifacts/).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
	createClient,
	createFieldSet,
	createJob,
	createUpload,
	createWebhook,
	deleteWebhook,
	getJobArtifact,
	type Job,
	type Problem,
	waitForJob,
} from "@eo-edge/client";
import { Webhook } from "standardwebhooks";
import { DEVELOPMENT_API_KEY } from "../src/access/api-keys";
import type { JobStatistics } from "../src/processes/index/statistics";

const ROOT = join(import.meta.dirname, "..");
const baseUrl = process.env.EO_EDGE_API ?? "http://localhost:8787";
const apiKey = process.env.EO_EDGE_API_KEY ?? DEVELOPMENT_API_KEY;
const outputRoot = process.env.EO_EDGE_DEMO_DIR ?? join(ROOT, "artifacts");

const client = createClient({ baseUrl, auth: apiKey });

function fail(what: string, problem: unknown): never {
	const detail = (problem as Partial<Problem> | undefined)?.detail ?? JSON.stringify(problem);
	console.error(`${what}: ${detail}`);
	process.exit(1);
}

async function uploadBand(file: string): Promise<string> {
	const bytes = readFileSync(join(ROOT, "samples", file));
	const { data, error } = await createUpload({ client, body: new Blob([bytes]) });
	// 202 (an upload in parts) only answers a request with Upload-Length; this one sends the file.
	if (!data || !("raster" in data)) fail(`upload ${file}`, error ?? data);
	const { width, height, data_type: type } = data.raster;
	console.log(`uploaded ${file}: ${data.id} (${width}x${height} ${type})`);
	return data.id;
}

try {
	await fetch(`${baseUrl}/v1/health`);
} catch {
	console.error(`no EO Edge API at ${baseUrl}: start it with \`npm run dev\` (or set EO_EDGE_API)`);
	process.exit(1);
}

/**
 * A partner's webhook receiver on this machine: verifies each delivery with the reference library
 * and prints it. Null (with a note) when the server does not admit loopback receivers.
 */
async function startWebhookReceiver() {
	const arrived: string[] = [];
	let verifier: Webhook | null = null;
	const server = createServer((request, response) => {
		const chunks: Buffer[] = [];
		request.on("data", (chunk: Buffer) => chunks.push(chunk));
		request.on("end", () => {
			const body = Buffer.concat(chunks).toString("utf8");
			try {
				const event = verifier?.verify(body, request.headers as Record<string, string>) as {
					type: string;
					data: { job_id: string; stage?: string };
				};
				const stage = event.data.stage ? ` (${event.data.stage} done)` : "";
				console.log(`  webhook ${event.type}${stage} for ${event.data.job_id}: signature verified`);
				arrived.push(event.type);
				response.writeHead(204).end();
			} catch (error) {
				console.log(`  webhook refused: ${(error as Error).message}`);
				response.writeHead(400).end();
			}
		});
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/eo-edge`;
	const { data, error } = await createWebhook({
		client,
		body: { url, events: ["job.succeeded", "job.failed", "job.progress"] },
	});
	if (!data) {
		server.close();
		const detail = (error as Partial<Problem> | undefined)?.detail ?? JSON.stringify(error);
		console.log(
			`(no webhook receiver: ${detail}; start the server with \`npm run dev -- --var ALLOW_LOOPBACK_URLS:true\` to see webhooks arrive)`,
		);
		return null;
	}
	verifier = new Webhook(data.secret);
	console.log(`webhook ${data.id} registered: ${url} (secret ${data.secret.slice(0, 10)}…)`);
	return {
		/** Waits a while for job.succeeded or job.failed, then deletes the endpoint. */
		async close() {
			const deadline = Date.now() + 30_000;
			while (!arrived.some((type) => type !== "job.progress") && Date.now() < deadline) {
				await new Promise((resolve) => setTimeout(resolve, 200));
			}
			if (!arrived.some((type) => type !== "job.progress")) console.log("  no job.succeeded webhook within 30 s");
			await deleteWebhook({ client, path: { id: data.id } });
			server.close();
		},
	};
}

const receiver = await startWebhookReceiver();
const red = await uploadBand("s2_red_256.tif");
const nir = await uploadBand("s2_nir_256.tif");
const { data: submitted, error: rejected } = await createJob({
	client,
	body: { index: "ndvi", inputs: { red: { upload_id: red, band: 1 }, nir: { upload_id: nir, band: 1 } } },
});
if (!submitted) fail("submit the NDVI job", rejected);
console.log(`job ${submitted.id} submitted`);

/** Shows the job's progress until it ends, and saves its artifacts to a folder of its own. */
async function runToEnd(id: string): Promise<{ job: Job; folder: string }> {
	let lastLine = "";
	const job = await waitForJob(id, {
		client,
		timeoutMs: 120_000,
		onProgress: ({ status, stage, progress }) => {
			const line = `  ${status.padEnd(9)} ${(stage ?? "-").padEnd(8)} ${Math.round(progress * 100)}%`;
			if (line !== lastLine) console.log(line);
			lastLine = line;
		},
	});
	if (job.status !== "succeeded") fail(`job ${job.id} ${job.status}`, job.error);
	const folder = join(outputRoot, job.id);
	mkdirSync(folder, { recursive: true });
	for (const artifact of job.artifacts) {
		const { data, error } = await getJobArtifact({
			client,
			path: { id: job.id, name: artifact.name },
			parseAs: "arrayBuffer",
		});
		if (!data) fail(`download ${artifact.name}`, error);
		// data is typed by the JSON artifact's schema; parseAs makes every artifact bytes here.
		writeFileSync(join(folder, artifact.name), new Uint8Array(data as unknown as ArrayBuffer));
		console.log(`saved ${join(folder, artifact.name)} (${artifact.bytes} bytes)`);
	}
	return { job, folder };
}

const { job, folder } = await runToEnd(submitted.id);
await receiver?.close();
const stats = JSON.parse(readFileSync(join(folder, "stats.json"), "utf8")) as JobStatistics;
const format = (value: number | null) => (value === null ? "-" : value.toFixed(4));
console.log(`\n${job.index} statistics over ${stats.count} pixels (${stats.nodata_count} nodata)`);
console.log(
	`  min ${format(stats.min)}  max ${format(stats.max)}  mean ${format(stats.mean)}  std ${format(stats.std)}`,
);
const { p2, p50, p98 } = stats.percentiles;
const within = `${(stats.percentile_relative_error * 100).toFixed(2)}%`;
console.log(`  p2 ${format(p2)}  p50 ${format(p50)}  p98 ${format(p98)}  (each within ${within} of the exact value)`);
const widest = Math.max(1, ...stats.histogram.counts);
stats.histogram.counts.forEach((count, bin) => {
	if (count === 0) return;
	const [from, to] = [stats.histogram.edges[bin] ?? 0, stats.histogram.edges[bin + 1] ?? 0];
	const bar = "#".repeat(Math.ceil((40 * count) / widest));
	console.log(`  ${from.toFixed(3).padStart(7)} .. ${to.toFixed(3).padStart(6)} ${String(count).padStart(8)} ${bar}`);
});

const fields = JSON.parse(readFileSync(join(ROOT, "samples", "fields.geojson"), "utf8"));
const { data: fieldSet, error: fieldsRefused } = await createFieldSet({ client, body: fields });
if (!fieldSet) fail("store the sample fields", fieldsRefused);
console.log(`\nfield set ${fieldSet.id}: ${fieldSet.features} fields`);
const { data: zonal, error: zonalRejected } = await createJob({
	client,
	body: {
		process: "zonal_statistics",
		index: "ndvi",
		inputs: { red: { upload_id: red, band: 1 }, nir: { upload_id: nir, band: 1 } },
		zones: { field_set_id: fieldSet.id },
	},
});
if (!zonal) fail("submit the per-field NDVI job", zonalRejected);
console.log(`job ${zonal.id} submitted`);
const zones = await runToEnd(zonal.id);
const perField = JSON.parse(readFileSync(join(zones.folder, "zones.geojson"), "utf8")) as {
	features: {
		id: string;
		properties: {
			crop?: string;
			statistics: { count: number; mean: number | null; percentiles: Record<string, number | null> };
		};
	}[];
};
console.log(`\nNDVI per field (pixels weighed by the share of their area inside the field)`);
for (const { id, properties } of perField.features) {
	const { count, mean, percentiles } = properties.statistics;
	console.log(
		`  ${id.padEnd(12)} ${(properties.crop ?? "").padEnd(7)} ${count.toFixed(1).padStart(8)} px  mean ${format(mean)}  p2 ${format(percentiles.p2 ?? null)}  p98 ${format(percentiles.p98 ?? null)}`,
	);
}
