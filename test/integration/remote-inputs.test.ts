/**
 * Inputs given by href: Cloud-Optimized GeoTIFFs read over HTTPS by byte ranges. The host
 * cogs.test is test/node/remote-cogs.ts, which serves test/fixtures and fails on request.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import { MAX_REDIRECTS } from "../../src/raster/remote";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import nir256 from "../fixtures/s2_nir_256.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { createTenantKey } from "../tenants";

const COGS = "https://cogs.test";

async function runNdvi(inputs: Record<string, unknown>, remote?: { allowed_hosts: string[] }): Promise<Job> {
	const response = await submitJob({ index: "ndvi", inputs, remote });
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

async function eventsOf(jobId: string): Promise<string[]> {
	const { events } = await json<{ events: { stage: string; status: string }[] }>(await api(`/v1/jobs/${jobId}/events`));
	return events.map((event) => `${event.stage}:${event.status}`);
}

/** A job whose red band is a good remote file and whose nir band is `href`. */
function withNir(href: string) {
	return runNdvi({ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href } });
}

describe("remote inputs", () => {
	it("compute numpy's NDVI from a remote COG and an upload together", async () => {
		const nir = await upload(nir256);
		const job = await runNdvi({ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { upload_id: nir.id } });
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const [pixels] = (await (
			await (await fromArrayBuffer(result)).getImage()
		).readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(ndviS2);
		expect(pixels?.length).toBe(expected.length);
		const differing = expected.findIndex(
			(want, i) => !Object.is(want, pixels?.[i]) && !(Number.isNaN(want) && Number.isNaN(pixels?.[i])),
		);
		expect(differing).toBe(-1);
	});

	it.each([
		["answers 404", `${COGS}/status/404/s2_nir_256.tif`, "input-unavailable", "not found"],
		["ignores Range and would send the whole file", `${COGS}/no-range/s2_nir_256.tif`, "input-unavailable", "Range"],
		["is not a TIFF", `${COGS}/files/not_a_tiff.tif`, "invalid-raster", "not a TIFF"],
	])("fail the job at ingest, without retrying, when the file %s", async (_, href, code, reason) => {
		const job = await withNir(href);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("ingest");
		expect(job.error?.type).toBe(`https://eo-edge.dev/problems/${code}`);
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain(reason);
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});

	it("retry a server error and succeed once the server recovers", async () => {
		const job = await withNir(`${COGS}/flaky/${crypto.randomUUID()}/s2_nir_256.tif`);
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		const events = await eventsOf(job.id);
		expect(events.filter((event) => event === "ingest:retrying")).toHaveLength(1);
	});

	it.each([
		["is replaced by another version (a new ETag) after ingest read it", "replaced", 'ETag is no longer "'],
		["is replaced on a server that ignores If-Match", "retagged", 'ETag is now "'],
		["grows after ingest read it (another size, no ETag)", "grown", "bytes long, not 95855"],
	])("fail the job, without retrying, when the file %s", async (_, kind, how) => {
		const job = await withNir(`${COGS}/${kind}/${crypto.randomUUID()}/s2_nir_256.tif`);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain("the file changed since the job started");
		expect(job.error?.detail).toContain(how);
		expect(await eventsOf(job.id)).not.toContain("validate:retrying");
	});

	it.each([
		["keeps answering 500", `${COGS}/status/500/s2_nir_256.tif`, "HTTP 500"],
		["does not answer in time", `${COGS}/slow/s2_nir_256.tif`, "unreachable"],
	])("retry a server that %s, then fail the job naming the input", async (_, href, reason) => {
		const job = await withNir(href);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain(reason);
		const events = await eventsOf(job.id);
		expect(events.filter((event) => event === "ingest:retrying")).toHaveLength(3);
	});

	it.each([
		["loopback", "https://127.0.0.1/b.tif"],
		["loopback as one decimal number", "https://2130706433/b.tif"],
		["loopback in hex and short form", "https://0x7f.1/b.tif"],
		["loopback in octal", "https://0177.0.0.1/b.tif"],
		["private (10/8)", "https://10.1.2.3/b.tif"],
		["private (172.16/12)", "https://172.20.0.1/b.tif"],
		["private (192.168/16)", "https://192.168.1.1/b.tif"],
		["carrier-grade NAT", "https://100.64.0.1/b.tif"],
		["the cloud metadata address", "https://169.254.169.254/latest/meta-data/"],
		["unspecified", "https://0.0.0.0/b.tif"],
		["IPv6 loopback", "https://[::1]/b.tif"],
		["IPv4-mapped IPv6", "https://[::ffff:10.0.0.1]/b.tif"],
		["AWS's IPv6 metadata address (unique-local)", "https://[fd00:ec2::254]/b.tif"],
		["IPv6 link-local", "https://[fe80::1]/b.tif"],
		["localhost", "https://localhost/b.tif"],
		["a .localhost name", "https://cogs.localhost/b.tif"],
		["Google's metadata host", "https://metadata.google.internal/computeMetadata/v1/"],
		["an .internal name", "https://instance-data.ec2.internal/b.tif"],
		["a single-label name", "https://metadata/b.tif"],
		["credentials", "https://user:secret@cogs.test/files/s2_nir_256.tif"],
		["plain http", "http://cogs.test/files/s2_nir_256.tif"],
	])("are refused at job creation when they name %s, naming the field", async (_, href) => {
		const problem = await expectProblem(
			await submitJob({ index: "ndvi", inputs: { red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href } } }),
			422,
			"validation-failed",
		);
		expect(problem.errors?.map((error) => error.path)).toEqual(["inputs.nir.href"]);
	});

	it.each([
		["plain http", "http://cogs.test/files/s2_nir_256.tif", "https://"],
		["the cloud metadata address", "https://169.254.169.254/latest/meta-data/", "link-local"],
		["loopback as a decimal number", "https://2130706433/s2_nir_256.tif", "loopback"],
		["IPv6 loopback", "https://[::1]/s2_nir_256.tif", "non-public IPv6"],
		["IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]/s2_nir_256.tif", "non-public IPv6"],
		["Google's metadata host", "https://metadata.google.internal/computeMetadata/v1/", "metadata host"],
		["credentials", "https://user:secret@mirror.cogs.test/files/s2_nir_256.tif", "credentials"],
	])("fail the job at ingest when a redirect leads to %s", async (_, target, reason) => {
		const job = await withNir(`${COGS}/redirect?to=${encodeURIComponent(target)}`);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("ingest");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain("redirect to");
		expect(job.error?.detail).toContain(reason);
		expect(job.error?.errors?.map((error) => error.path)).toEqual(["inputs.nir.href"]);
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});

	it("follow a few redirects between public hosts, but not an endless chain", async () => {
		const followed = await withNir(`${COGS}/hops/${MAX_REDIRECTS}/s2_nir_256.tif`);
		expect(followed.error).toBeNull();
		expect(followed.status).toBe("succeeded");
		const endless = await withNir(`${COGS}/hops/${MAX_REDIRECTS + 1}/s2_nir_256.tif`);
		expect(endless.status).toBe("failed");
		expect(endless.error?.detail).toContain(`redirected more than ${MAX_REDIRECTS} times`);
	});

	it("keep to the job's allowed hosts, at creation and on every redirect", async () => {
		const remote = { allowed_hosts: ["cogs.test"] };
		const outside = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: {
					red: { href: `${COGS}/files/s2_red_256.tif` },
					nir: { href: "https://mirror.cogs.test/files/s2_nir_256.tif" },
				},
				remote,
			}),
			422,
			"validation-failed",
		);
		expect(outside.errors).toEqual([{ path: "inputs.nir.href", message: expect.stringContaining("mirror.cogs.test") }]);

		const toMirror = `${COGS}/redirect?to=${encodeURIComponent("https://mirror.cogs.test/files/s2_nir_256.tif")}`;
		const unrestricted = await withNir(toMirror);
		expect(unrestricted.status).toBe("succeeded");
		const restricted = await runNdvi(
			{ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href: toMirror } },
			remote,
		);
		expect(restricted.status).toBe("failed");
		expect(restricted.error?.detail).toContain("not among the allowed hosts");

		const wildcard = await runNdvi(
			{ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href: toMirror } },
			{ allowed_hosts: ["*.cogs.test", "cogs.test"] },
		);
		expect(wildcard.status).toBe("succeeded");
	});

	it.each([
		["announces a body longer than the range", `${COGS}/long-body/s2_nir_256.tif`, "announced"],
		["streams a body longer than the range", `${COGS}/stream-long/s2_nir_256.tif`, "more than the"],
	])("fail the job at ingest when the server %s", async (_, href, reason) => {
		const job = await withNir(href);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
		expect(job.error?.detail, job.error?.detail).toContain(reason);
	});

	it("fail the job at validate when its blocks exceed what a job may read", async () => {
		const href = `${COGS}/files/layouts/pixel_big.tif`;
		const job = await runNdvi({ red: { href, band: 1 }, nir: { href, band: 2 } });
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/raster-too-large");
		expect(job.error?.detail).toContain(`at most ${env.REMOTE_MAX_BYTES_PER_JOB} bytes`);
		expect(job.error?.detail).toContain("REMOTE_MAX_BYTES_PER_JOB");
	});

	it("fail the job at validate when its remote files together exceed what a job may read", async () => {
		// Each file stores less than REMOTE_MAX_BYTES_PER_JOB (1 MiB in the tests), both together more.
		const job = await runNdvi({
			red: { href: `${COGS}/files/layouts/overviews_red.tif` },
			nir: { href: `${COGS}/files/layouts/overviews_nir.tif` },
		});
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/raster-too-large");
		expect(job.error?.errors?.map((error) => error.path).sort()).toEqual(["inputs.nir.href", "inputs.red.href"]);
	});

	it("are refused unless they are https:// URLs, and need exactly one of upload_id and href", async () => {
		const plain = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: {
					red: { href: "http://cogs.test/files/s2_red_256.tif" },
					nir: { href: `${COGS}/files/s2_nir_256.tif` },
				},
			}),
			422,
			"validation-failed",
		);
		expect(plain.errors?.map((error) => error.path)).toEqual(["inputs.red.href"]);
		const both = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: {
					red: { href: `${COGS}/files/s2_red_256.tif`, upload_id: "upl_000000000000000000000000" },
					nir: { href: `${COGS}/files/s2_nir_256.tif` },
				},
			}),
			422,
			"validation-failed",
		);
		expect(both.errors?.map((error) => error.path)).toEqual(["inputs.red"]);
	});

	it("count against the tenant's pixel quota once validate has read their size", async () => {
		const { key } = await createTenantKey({ quotas: { maxPixelsPerJob: 256 * 255 } });
		const response = await submitJob(
			{
				index: "ndvi",
				inputs: { red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href: `${COGS}/files/s2_nir_256.tif` } },
			},
			{ authorization: `Bearer ${key}` },
		);
		expect(response.status).toBe(202);
		const { id } = await json<{ id: string }>(response);
		const job = await waitForJob(id, { key });
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/quota-exceeded");
		expect(job.error?.detail).toContain(String(256 * 256));
	});
});
