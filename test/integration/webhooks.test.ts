/**
 * Webhooks: the /v1/webhooks routes (forms, URL rules, events, tenants, scopes, the limit, the
 * missing key), jobs' notify.webhook_ids, the outbox (each event owed once, job.progress once per
 * stage, the cron's resend) and delivery: signatures checked by the reference library
 * (standardwebhooks' Webhook.verify, never our own code), rotation, every answer a receiver can
 * give and the retry schedule. Receivers are test/node/webhook-receiver.ts at https://hooks.test.
 */
import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import sampleFields from "../../samples/fields.geojson?raw";
import { cancelJob, failJob, markStageRunning } from "../../src/db/jobs";
import { ApiError, jobProblem } from "../../src/errors/api-error";
import { applyRetention, sweepJobs } from "../../src/maintenance/tasks";
import { deadLetterQueue } from "../../src/pipeline/stages";
import { deliverWebhookBatch, RETRY_DELAYS_SECONDS, retryDelaySeconds } from "../../src/webhooks/delivery";
import { resendOverdueWebhooks } from "../../src/webhooks/outbox";
import worker from "../../src/worker";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, apiWith, expectProblem, heldQueue, json, submitJob, upload, waitForJob } from "../helpers";
import { deliver, recordingEnv, recordNdviJob } from "../pipeline-driver";
import { createTenantKey } from "../tenants";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const ALL_EVENTS = ["job.succeeded", "job.failed", "job.canceled", "job.progress"];

interface Endpoint {
	id: string;
	url: string;
	events: string[];
	enabled: boolean;
	disabled_at: string | null;
	disabled_reason: string | null;
	previous_secret_expires_at: string | null;
	secret?: string;
}

interface Received {
	path: string;
	headers: Record<string, string>;
	body: string;
}

interface Attempt {
	id: string;
	webhook_id: string;
	event: string;
	job_id: string;
	attempt: number;
	outcome: string;
	http_status: number | null;
	latency_ms: number;
	next_retry_at: string | null;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const token = () => crypto.randomUUID();

function postWebhook(body: unknown, headers: Record<string, string> = {}, bindings?: Partial<Env>) {
	const init = {
		method: "POST",
		headers: { "content-type": "application/json", ...headers },
		body: JSON.stringify(body),
	};
	return bindings ? apiWith(bindings, "/v1/webhooks", init) : api("/v1/webhooks", init);
}

async function register(url: string, events = ALL_EVENTS, headers: Record<string, string> = {}): Promise<Endpoint> {
	const response = await postWebhook({ url, events }, headers);
	expect(response.status, await response.clone().text()).toBe(201);
	const endpoint = await json<Endpoint>(response);
	expect(response.headers.get("location")).toBe(`/v1/webhooks/${endpoint.id}`);
	return endpoint;
}

async function received(receiverToken: string): Promise<Received[]> {
	return json<Received[]>(await fetch(`https://hooks.test/${receiverToken}/received`));
}

/** Waits until the receiver has what `done` asks for. */
async function receivedUntil(receiverToken: string, done: (got: Received[]) => boolean, timeoutMs = 20_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const got = await received(receiverToken);
		if (done(got) || Date.now() > deadline) return got;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** Verifies with the reference library and returns the payload. */
function verified(secret: string, delivery: Received) {
	return new Webhook(secret).verify(delivery.body, delivery.headers) as {
		type: string;
		timestamp: string;
		data: { job_id: string; status: string; stage?: string; links: { job: string; artifacts: string | null } };
	};
}

async function deliveries(
	endpointId: string,
	query = "",
	headers: Record<string, string> = {},
): Promise<{ deliveries: Attempt[]; next: string | null }> {
	const response = await api(`/v1/webhooks/${endpointId}/deliveries${query}`, { headers });
	expect(response.status, await response.clone().text()).toBe(200);
	return json(response);
}

/** A queue binding that records what is sent to it, with each message's options. */
function recordingQueue() {
	const sent: { body: Record<string, unknown>; delaySeconds?: number }[] = [];
	const queue = {
		send: async (body: Record<string, unknown>, options?: { delaySeconds?: number }) => {
			sent.push({ body, ...(options?.delaySeconds ? { delaySeconds: options.delaySeconds } : {}) });
		},
		sendBatch: async (batch: { body: Record<string, unknown>; delaySeconds?: number }[]) => {
			sent.push(...batch.map(({ body, delaySeconds }) => ({ body, ...(delaySeconds ? { delaySeconds } : {}) })));
		},
	} as unknown as Queue;
	return { queue, sent };
}

/** Delivers one webhooks-queue message as the queue would. */
async function attemptDelivery(body: Record<string, unknown>, testEnv: Env) {
	const batch = createMessageBatch("eo-edge-webhooks", [
		{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body },
	]);
	await deliverWebhookBatch(batch, testEnv);
}

/** A recorded job of the tenant, failed, and the webhook messages its failure queued. */
async function failedJob(tenantId: string, notify?: string[]) {
	const job = await recordNdviJob({}, { traceId: TRACE, tenantId });
	if (notify) {
		await env.DB.prepare("UPDATE jobs SET request_json = json_set(request_json, '$.notify', json(?)) WHERE id = ?")
			.bind(JSON.stringify({ webhook_ids: notify }), job.id)
			.run();
	}
	const { queue, sent } = recordingQueue();
	const { testEnv } = recordingEnv({ WEBHOOKS_QUEUE: queue });
	// The dead-letter path: a message given up on fails its still-live job.
	await deliver(deadLetterQueue.queue, { job_id: job.id, trace_id: TRACE }, testEnv);
	return { job, sent, testEnv };
}

/** The one queued message of `endpointId` among `sent`. */
function messageFor(sent: { body: Record<string, unknown> }[], endpointId: string, testEnv: Env) {
	return Promise.all(
		sent.map(async ({ body }) => {
			const row = await testEnv.DB.prepare("SELECT endpoint_id FROM webhook_messages WHERE id = ?")
				.bind(body.webhook_message_id)
				.first<{ endpoint_id: string }>();
			return row?.endpoint_id === endpointId ? body : null;
		}),
	).then((bodies) => {
		const mine = bodies.filter((body) => body !== null);
		expect(mine).toHaveLength(1);
		return mine[0] as Record<string, unknown>;
	});
}

afterEach(() => {
	vi.useRealTimers();
});

describe("POST /v1/webhooks", () => {
	it("registers an endpoint and shows its secret only then; GET, list and DELETE", async () => {
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.failed", "job.succeeded", "job.failed"]);
		expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		// Each event once, in the order of the list.
		expect(endpoint.events).toEqual(["job.succeeded", "job.failed"]);
		expect(endpoint.enabled).toBe(true);
		const got = await json<Endpoint>(await api(`/v1/webhooks/${endpoint.id}`));
		expect(got).not.toHaveProperty("secret");
		expect(got.url).toBe(endpoint.url);
		// The secret is stored sealed, not in clear.
		const row = await env.DB.prepare("SELECT secret_sealed FROM webhook_endpoints WHERE id = ?")
			.bind(endpoint.id)
			.first<{ secret_sealed: string }>();
		expect(row?.secret_sealed).not.toContain(endpoint.secret?.slice(6, 30));

		const second = await register(`https://hooks.test/${token()}/ok`);
		const first = await json<{ webhooks: Endpoint[]; next: string | null }>(await api("/v1/webhooks?limit=1"));
		expect(first.webhooks.map((webhook) => webhook.id)).toEqual([second.id]);
		expect(first.next).not.toBeNull();
		const page = await json<{ webhooks: Endpoint[] }>(await api(`/v1/webhooks?limit=1&cursor=${first.next as string}`));
		expect(page.webhooks.map((webhook) => webhook.id)).toEqual([endpoint.id]);
		await expectProblem(await api("/v1/webhooks?cursor=nonsense"), 422, "validation-failed");

		expect((await api(`/v1/webhooks/${endpoint.id}`, { method: "DELETE" })).status).toBe(204);
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}`), 404, "not-found");
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}`, { method: "DELETE" }), 404, "not-found");
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}/deliveries`), 404, "not-found");
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}/rotate-secret`, { method: "POST" }), 404, "not-found");
	});

	it.each([
		["plain http", "http://hooks.test/x/ok"],
		["a private host", "https://10.0.0.1/hook"],
		["cloud metadata", "https://169.254.169.254/latest"],
		["credentials", "https://user:secret@hooks.test/x/ok"],
		["a loopback host without ALLOW_LOOPBACK_URLS", "http://127.0.0.1:8080/hook"],
		["localhost", "https://localhost/hook"],
		["not a URL", "hooks.test/x"],
		["another scheme", "ftp://hooks.test/x"],
	])("refuses %s, naming url", async (_case, url) => {
		const problem = await expectProblem(await postWebhook({ url, events: ["job.failed"] }), 422, "validation-failed");
		expect(new Set(problem.errors?.map((error) => error.path))).toEqual(new Set(["url"]));
	});

	it("admits a loopback receiver in local development (ALLOW_LOOPBACK_URLS)", async () => {
		const local = { ALLOW_LOOPBACK_URLS: "true" };
		expect((await postWebhook({ url: "http://127.0.0.1:8080/hook", events: ["job.failed"] }, {}, local)).status).toBe(
			201,
		);
		expect((await postWebhook({ url: "https://localhost:8443/hook", events: ["job.failed"] }, {}, local)).status).toBe(
			201,
		);
		// Only loopback: other private hosts stay refused.
		await expectProblem(
			await postWebhook({ url: "http://10.0.0.1:8080/hook", events: ["job.failed"] }, {}, local),
			422,
			"validation-failed",
		);
	});

	it.each([
		["no events", { url: "https://hooks.test/x/ok", events: [] }, "events"],
		["an unknown event", { url: "https://hooks.test/x/ok", events: ["job.started"] }, "events[0]"],
		["no url", { events: ["job.failed"] }, "url"],
		["an unknown field", { url: "https://hooks.test/x/ok", events: ["job.failed"], secret: "mine" }, ""],
	])("refuses %s", async (_case, body, path) => {
		const problem = await expectProblem(await postWebhook(body), 422, "validation-failed");
		expect(problem.errors?.some((error) => error.path === path || error.path.startsWith(path))).toBe(true);
	});

	it("is the tenant's own: another tenant's key finds nothing", async () => {
		const endpoint = await register(`https://hooks.test/${token()}/ok`);
		const other = await createTenantKey();
		const headers = bearer(other.key);
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}`, { headers }), 404, "not-found");
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}`, { method: "DELETE", headers }), 404, "not-found");
		await expectProblem(
			await api(`/v1/webhooks/${endpoint.id}/rotate-secret`, { method: "POST", headers }),
			404,
			"not-found",
		);
		await expectProblem(await api(`/v1/webhooks/${endpoint.id}/deliveries`, { headers }), 404, "not-found");
		const list = await json<{ webhooks: Endpoint[] }>(await api("/v1/webhooks", { headers }));
		expect(list.webhooks).toEqual([]);
		expect((await api(`/v1/webhooks/${endpoint.id}`)).status).toBe(200);
	});

	it("needs webhooks:write to change and webhooks:read to read", async () => {
		const reader = await createTenantKey({ scopes: ["webhooks:read"] });
		const jobsOnly = await createTenantKey({ scopes: ["jobs:read", "jobs:write"] });
		await expectProblem(
			await postWebhook({ url: "https://hooks.test/x/ok", events: ["job.failed"] }, bearer(reader.key)),
			403,
			"forbidden",
		);
		expect((await api("/v1/webhooks", { headers: bearer(reader.key) })).status).toBe(200);
		await expectProblem(await api("/v1/webhooks", { headers: bearer(jobsOnly.key) }), 403, "forbidden");
		await expectProblem(
			await api("/v1/webhooks/whk_0123456789abcdef01234567/rotate-secret", {
				method: "POST",
				headers: bearer(reader.key),
			}),
			403,
			"forbidden",
		);
	});

	it("keeps a tenant within its limit of endpoints", async () => {
		const tenant = await createTenantKey();
		const limited = { WEBHOOKS_MAX_PER_TENANT: 2 };
		const body = { url: "https://hooks.test/x/ok", events: ["job.failed"] };
		for (let n = 0; n < 2; n++) expect((await postWebhook(body, bearer(tenant.key), limited)).status).toBe(201);
		const problem = await expectProblem(await postWebhook(body, bearer(tenant.key), limited), 429, "quota-exceeded");
		expect(problem.detail).toContain("2 webhook endpoints");
	});

	it("answers 503, not a crash, on a deployment without WEBHOOK_SECRETS_KEY", async () => {
		const body = { url: "https://hooks.test/x/ok", events: ["job.failed"] };
		const problem = await expectProblem(
			await postWebhook(body, {}, { WEBHOOK_SECRETS_KEY: undefined }),
			503,
			"webhooks-unavailable",
		);
		expect(problem.detail).toContain("WEBHOOK_SECRETS_KEY");
	});
});

describe("a job's webhooks, end to end", () => {
	it("calls the endpoint once per event, signed, with job.progress once per stage", async () => {
		const receiver = token();
		const endpoint = await register(`https://hooks.test/${receiver}/ok`);
		const red = await upload(red256);
		const nir = await upload(nir256);
		const submitted = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		});
		expect(submitted.status).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(submitted)).id);
		expect(job.status).toBe("succeeded");
		const got = await receivedUntil(receiver, (all) => all.some((one) => one.body.includes('"job.succeeded"')));
		const payloads = got.map((delivery) => verified(endpoint.secret as string, delivery));
		for (const delivery of got) {
			expect(delivery.headers["content-type"]).toBe("application/json");
			expect(delivery.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{24}$/);
			expect(new TextEncoder().encode(delivery.body).length).toBeLessThan(20_000);
		}
		expect(payloads.filter((payload) => payload.type === "job.succeeded")).toHaveLength(1);
		const succeeded = payloads.find((payload) => payload.type === "job.succeeded");
		expect(succeeded?.data).toEqual({
			job_id: job.id,
			status: "succeeded",
			links: {
				job: `http://localhost/v1/jobs/${job.id}`,
				artifacts: `http://localhost/v1/jobs/${job.id}/artifacts/item.json`,
			},
		});
		const stages = payloads.filter((payload) => payload.type === "job.progress").map((payload) => payload.data.stage);
		// Every stage before the last completes once; the last one's completion is job.succeeded.
		expect(new Set(stages).size).toBe(stages.length);
		expect(stages).toEqual(expect.arrayContaining(["ingest", "validate", "compute", "store"]));
		expect(new Set(got.map((delivery) => delivery.headers["webhook-id"])).size).toBe(got.length);

		const listed = await deliveries(endpoint.id);
		const attempt = listed.deliveries.find((one) => one.event === "job.succeeded");
		expect(attempt).toMatchObject({ job_id: job.id, attempt: 1, outcome: "delivered", http_status: 200 });
		expect(attempt?.next_retry_at).toBeNull();
		expect(attempt?.latency_ms).toBeGreaterThanOrEqual(0);
	});

	it("calls only the endpoints a job names in notify.webhook_ids", async () => {
		const named = token();
		const other = token();
		const chosen = await register(`https://hooks.test/${named}/ok`, ["job.succeeded"]);
		await register(`https://hooks.test/${other}/ok`, ["job.succeeded"]);
		const red = await upload(red256);
		const nir = await upload(nir256);
		const submitted = await submitJob({
			process: "index",
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
			notify: { webhook_ids: [chosen.id] },
		});
		expect(submitted.status, await submitted.clone().text()).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(submitted)).id);
		expect(job.status).toBe("succeeded");
		// The job shows whom it notifies.
		expect(job.notify).toEqual({ webhook_ids: [chosen.id] });
		const got = await receivedUntil(named, (all) => all.length > 0);
		expect(got.map((delivery) => verified(chosen.secret as string, delivery).data.job_id)).toEqual([job.id]);
		// The other endpoint subscribes to job.succeeded too, but this job did not name it.
		const owed = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_messages WHERE job_id = ?")
			.bind(job.id)
			.first<{ n: number }>();
		expect(owed?.n).toBe(1);
		expect((await received(other)).filter((delivery) => delivery.body.includes(job.id))).toEqual([]);
	});

	it("tells of a zonal_statistics job as of any other", async () => {
		const receiver = token();
		const endpoint = await register(`https://hooks.test/${receiver}/ok`, ["job.succeeded"]);
		const red = await upload(red256);
		const nir = await upload(nir256);
		const submitted = await submitJob({
			process: "zonal_statistics",
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
			zones: JSON.parse(sampleFields),
			notify: { webhook_ids: [endpoint.id] },
		});
		expect(submitted.status, await submitted.clone().text()).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(submitted)).id);
		expect(job.status).toBe("succeeded");
		const got = await receivedUntil(receiver, (all) => all.length > 0);
		expect(got.map((delivery) => verified(endpoint.secret as string, delivery).data)).toMatchObject([
			{ job_id: job.id, status: "succeeded" },
		]);
	});

	it("refuses notify.webhook_ids that are not the tenant's enabled endpoints, naming each", async () => {
		const mine = await register(`https://hooks.test/${token()}/ok`, ["job.failed"]);
		const other = await createTenantKey();
		const theirs = await register(`https://hooks.test/${token()}/ok`, ["job.failed"], bearer(other.key));
		const red = await upload(red256);
		const nir = await upload(nir256);
		const body = (ids: string[]) => ({
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
			notify: { webhook_ids: ids },
		});
		const problem = await expectProblem(
			await submitJob(body([mine.id, theirs.id, "whk_0123456789abcdef01234567"])),
			422,
			"validation-failed",
		);
		expect(problem.errors?.map((error) => error.path)).toEqual(["notify.webhook_ids[1]", "notify.webhook_ids[2]"]);
		const malformed = await expectProblem(await submitJob(body(["hook-1"])), 422, "validation-failed");
		expect(malformed.errors?.[0]?.path).toBe("notify.webhook_ids[0]");
		await expectProblem(await submitJob(body([])), 422, "validation-failed");
		// A disabled endpoint cannot be named either.
		await env.DB.prepare("UPDATE webhook_endpoints SET disabled_at = ? WHERE id = ?")
			.bind(new Date().toISOString(), mine.id)
			.run();
		const disabled = await expectProblem(await submitJob(body([mine.id])), 422, "validation-failed");
		expect(disabled.errors?.map((error) => error.path)).toEqual(["notify.webhook_ids[0]"]);
	});

	it("tells of a cancel (job.canceled), sent through the webhooks queue", async () => {
		const receiver = token();
		const endpoint = await register(`https://hooks.test/${receiver}/ok`, ["job.canceled"]);
		const red = await upload(red256);
		const nir = await upload(nir256);
		// The job stays queued: its ingest message is held.
		const submitted = await apiWith({ INGEST_QUEUE: heldQueue }, "/v1/jobs", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ index: "ndvi", inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } } }),
		});
		const { id } = await json<{ id: string }>(submitted);
		expect((await api(`/v1/jobs/${id}/cancel`, { method: "POST" })).status).toBe(200);
		const got = await receivedUntil(receiver, (all) => all.length > 0);
		expect(got.map((delivery) => verified(endpoint.secret as string, delivery))).toMatchObject([
			{ type: "job.canceled", data: { job_id: id, status: "canceled", links: { artifacts: null } } },
		]);
	});
});

describe("the outbox", () => {
	it("owes each terminal event once per endpoint, whatever ends the job again", async () => {
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.failed", "job.canceled"]);
		const job = await recordNdviJob({}, { traceId: TRACE });
		const problem = jobProblem(new ApiError("stage-failed", "broke"), job.id, TRACE);
		expect(await failJob(env.DB, job.id, problem)).toBe(true);
		expect(await failJob(env.DB, job.id, problem)).toBe(false);
		expect(await cancelJob(env.DB, job.tenantId as string, job.id)).toBe(false);
		const { results } = await env.DB.prepare(
			"SELECT event_type FROM webhook_messages WHERE job_id = ? AND endpoint_id = ?",
		)
			.bind(job.id, endpoint.id)
			.all<{ event_type: string }>();
		expect(results.map((row) => row.event_type)).toEqual(["job.failed"]);
	});

	it("owes job.progress once per completed stage, never for a stage left twice", async () => {
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.progress"]);
		const job = await recordNdviJob({}, { traceId: TRACE });
		const sequence = ["ingest", "validate", "compute", "store", "publish"];
		const move = (stage: string) =>
			markStageRunning(env.DB, job.id, stage, 0.5, sequence.slice(0, sequence.indexOf(stage) + 1));
		expect((await move("ingest")).webhooksOwed).toBe(false);
		expect((await move("validate")).webhooksOwed).toBe(true);
		expect((await move("validate")).webhooksOwed).toBe(false);
		expect((await move("compute")).webhooksOwed).toBe(true);
		// A late duplicate of an earlier stage neither moves the job back nor owes anything.
		expect((await move("validate")).webhooksOwed).toBe(false);
		expect((await move("compute")).webhooksOwed).toBe(false);
		const { results } = await env.DB.prepare(
			"SELECT stage FROM webhook_messages WHERE job_id = ? AND endpoint_id = ? ORDER BY created_at",
		)
			.bind(job.id, endpoint.id)
			.all<{ stage: string }>();
		expect(results.map((row) => row.stage)).toEqual(["ingest", "validate"]);
	});

	it("is resent by the cron when the send after the job's batch never happened, or an attempt was lost", async () => {
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.failed"]);
		const job = await recordNdviJob({}, { traceId: TRACE });
		// The status change and its delivery row land; the worker stops before the send.
		await failJob(env.DB, job.id, jobProblem(new ApiError("stage-failed", "broke"), job.id, TRACE));
		const { queue, sent } = recordingQueue();
		const cronEnv = { ...env, WEBHOOKS_QUEUE: queue };
		// Too early: the job's own send may still be on its way.
		await resendOverdueWebhooks(cronEnv, Date.now());
		expect(sent).toEqual([]);
		const later = Date.now() + 3 * 60_000;
		await resendOverdueWebhooks(cronEnv, later);
		const mine = await messageFor(sent, endpoint.id, cronEnv);
		expect(mine).toMatchObject({ attempt: 1, job_id: job.id, trace_id: TRACE });
		// Queued now: the next pass leaves it.
		const before = sent.length;
		await resendOverdueWebhooks(cronEnv, later);
		expect(sent.slice(before).filter((message) => message.body.webhook_message_id === mine.webhook_message_id)).toEqual(
			[],
		);
		// Its queue message is lost: long past due, the cron queues the attempt again.
		await resendOverdueWebhooks(cronEnv, Date.now() + 60 * 60_000);
		expect(
			sent.slice(before).filter((message) => message.body.webhook_message_id === mine.webhook_message_id),
		).toMatchObject([{ body: { attempt: 1 } }]);
	});
});

describe("the cron", () => {
	it("tells of a job the sweeper stops (job.failed, job-stalled)", async () => {
		const tenant = await createTenantKey();
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.failed"], bearer(tenant.key));
		const job = await recordNdviJob({}, { traceId: TRACE, tenantId: tenant.tenantId });
		await markStageRunning(env.DB, job.id, "ingest", 0.02, ["ingest"]);
		const { queue, sent } = recordingQueue();
		const cronEnv = { ...env, WEBHOOKS_QUEUE: queue };
		await sweepJobs(cronEnv, Date.now() + (env.STALLED_JOB_MINUTES + 1) * 60_000);
		const message = await messageFor(sent, endpoint.id, cronEnv);
		expect(message).toMatchObject({ job_id: job.id, attempt: 1, trace_id: TRACE });
	});

	it("forgets deliveries and attempts once artifacts would be", async () => {
		const tenant = await createTenantKey();
		const endpoint = await register(`https://hooks.test/${token()}/ok`, ["job.failed"], bearer(tenant.key));
		const { sent, testEnv } = await failedJob(tenant.tenantId);
		await attemptDelivery(await messageFor(sent, endpoint.id, testEnv), testEnv);
		const history = () =>
			env.DB.prepare(
				`SELECT (SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = ?1)
				      + (SELECT COUNT(*) FROM webhook_messages WHERE endpoint_id = ?1) AS n`,
			)
				.bind(endpoint.id)
				.first<{ n: number }>();
		expect((await history())?.n).toBe(2);
		await applyRetention(env, Date.now() + env.ARTIFACT_RETENTION_DAYS * 86_400_000 - 60_000);
		expect((await history())?.n).toBe(2);
		await applyRetention(env, Date.now() + env.ARTIFACT_RETENTION_DAYS * 86_400_000 + 60_000);
		expect((await history())?.n).toBe(0);
	});
});

describe("a delivery attempt", () => {
	/**
	 * An endpoint at `path` of a fresh receiver, of a tenant of its own, a failed job of that
	 * tenant, and the delivery owed to the endpoint.
	 */
	async function owed(path: string) {
		const receiver = token();
		const tenant = await createTenantKey();
		const endpoint = await register(`https://hooks.test/${receiver}/${path}`, ["job.failed"], bearer(tenant.key));
		const { job, sent } = await failedJob(tenant.tenantId, [endpoint.id]);
		const { queue, sent: resent } = recordingQueue();
		const testEnv = { ...env, WEBHOOKS_QUEUE: queue };
		const message = await messageFor(sent, endpoint.id, testEnv);
		return { receiver, endpoint, job, message, resent, testEnv, tenant, headers: bearer(tenant.key) };
	}

	it("is signed with the endpoint's secret and carries the thin payload", async () => {
		const { receiver, endpoint, job, message, testEnv } = await owed("ok");
		await attemptDelivery(message, testEnv);
		const [delivery] = await received(receiver);
		if (!delivery) throw new Error("nothing was delivered");
		expect(delivery.headers["webhook-id"]).toBe(message.webhook_message_id);
		expect(delivery.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
		expect(Math.abs(Number(delivery.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
		expect(verified(endpoint.secret as string, delivery)).toMatchObject({
			type: "job.failed",
			data: { job_id: job.id, status: "failed", links: { artifacts: null } },
		});
		// Another secret does not verify it.
		const stranger = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw2l0ZYq8DYPc=";
		expect(() => verified(stranger, delivery)).toThrow();
	});

	it("reaches the deliverer from a deployed environment's queue (eo-edge-webhooks-staging)", async () => {
		const { receiver, message, testEnv } = await owed("staging");
		const batch = createMessageBatch("eo-edge-webhooks-staging", [
			{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: message },
		]);
		await worker.queue(batch, { ...testEnv, ENVIRONMENT: "staging" });
		expect((await received(receiver)).map((delivery) => delivery.headers["webhook-id"])).toEqual([
			message.webhook_message_id,
		]);
	});

	it("is signed with both secrets for 24 hours after a rotation, then with the new one only", async () => {
		const { receiver, endpoint, message, testEnv, headers } = await owed("status/500");
		const rotatedAnswer = await api(`/v1/webhooks/${endpoint.id}/rotate-secret`, { method: "POST", headers });
		expect(rotatedAnswer.status).toBe(200);
		const rotated = await json<Endpoint>(rotatedAnswer);
		expect(rotated.secret).not.toBe(endpoint.secret);
		expect(Date.parse(rotated.previous_secret_expires_at as string) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
		await attemptDelivery(message, testEnv);
		const [both] = await received(receiver);
		if (!both) throw new Error("nothing was delivered");
		expect(both.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
		verified(endpoint.secret as string, both);
		verified(rotated.secret as string, both);

		// 25 hours on: only the new secret signs.
		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 25 * 3600_000 });
		await attemptDelivery({ ...message, attempt: 2 }, testEnv);
		const [, later] = await received(receiver);
		if (!later) throw new Error("the second attempt was not delivered");
		expect(later.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
		verified(rotated.secret as string, later);
		expect(() => verified(endpoint.secret as string, later)).toThrow();
		expect(later.headers["webhook-id"]).toBe(both.headers["webhook-id"]);
		const shown = await json<Endpoint>(await api(`/v1/webhooks/${endpoint.id}`, { headers }));
		expect(shown.previous_secret_expires_at).toBeNull();
	});

	it.each([
		[500, "failed"],
		[503, "failed"],
		[429, "failed"],
		[408, "failed"],
	])("answered %i is retried with backoff, under the same webhook-id", async (status, outcome) => {
		const { receiver, endpoint, message, resent, testEnv, headers } = await owed(`status/${status}`);
		await attemptDelivery(message, testEnv);
		expect(resent).toHaveLength(1);
		const [retry] = resent;
		expect(retry?.body).toEqual({ ...message, attempt: 2 });
		// 30 s, jittered by a fifth either way.
		expect(retry?.delaySeconds).toBeGreaterThanOrEqual(24);
		expect(retry?.delaySeconds).toBeLessThanOrEqual(36);
		const [attempt] = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(attempt).toMatchObject({ attempt: 1, outcome, http_status: status, webhook_id: message.webhook_message_id });
		expect(Date.parse(attempt?.next_retry_at as string) - Date.now()).toBeGreaterThan(20_000);

		await attemptDelivery(retry?.body as Record<string, unknown>, testEnv);
		const got = await received(receiver);
		expect(got.map((delivery) => delivery.headers["webhook-id"])).toEqual([
			message.webhook_message_id,
			message.webhook_message_id,
		]);
		const listed = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(listed.map((one) => one.attempt)).toEqual([2, 1]);
		// Paged like the other lists.
		const first = await deliveries(endpoint.id, "?limit=1", headers);
		expect(first.deliveries.map((one) => one.attempt)).toEqual([2]);
		const second = await deliveries(endpoint.id, `?limit=1&cursor=${first.next as string}`, headers);
		expect(second.deliveries.map((one) => one.attempt)).toEqual([1]);
		expect(second.next).toBeNull();
	});

	it.each([
		["a refused connection", new TypeError("connect ECONNREFUSED 10.0.0.5:443")],
		["no DNS name", new TypeError("getaddrinfo ENOTFOUND hooks.example.org")],
		["a reset connection", new Error("Network connection lost.")],
	])("reads unreachable on %s, with no error text, and is retried", async (_case, thrown) => {
		const { endpoint, message, resent, testEnv, headers } = await owed("ok");
		vi.spyOn(globalThis, "fetch").mockRejectedValueOnce(thrown);
		await attemptDelivery(message, testEnv);
		vi.restoreAllMocks();
		const response = await api(`/v1/webhooks/${endpoint.id}/deliveries`, { headers });
		expect(await response.clone().text()).not.toContain(thrown.message);
		const [attempt] = (await json<{ deliveries: Attempt[] }>(response)).deliveries;
		expect(attempt).toMatchObject({ outcome: "unreachable", http_status: null });
		expect(attempt?.next_retry_at).not.toBeNull();
		expect(resent).toHaveLength(1);
	});

	it("reads unreachable when the receiver does not answer within the timeout, and is retried", async () => {
		const { endpoint, message, resent, testEnv, headers } = await owed("slow");
		await attemptDelivery(message, testEnv);
		const [attempt] = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(attempt).toMatchObject({ outcome: "unreachable", http_status: null });
		expect(attempt?.latency_ms).toBeGreaterThanOrEqual(450);
		expect(resent).toHaveLength(1);
	});

	it("disables the endpoint on 410 Gone, and nothing more is owed to it", async () => {
		const { endpoint, message, resent, testEnv, tenant, headers } = await owed("status/410");
		await attemptDelivery(message, testEnv);
		expect(resent).toEqual([]);
		const shown = await json<Endpoint>(await api(`/v1/webhooks/${endpoint.id}`, { headers }));
		expect(shown).toMatchObject({ enabled: false, disabled_reason: "the receiver answered 410 Gone" });
		expect(shown.disabled_at).not.toBeNull();
		const [attempt] = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(attempt).toMatchObject({ outcome: "failed", http_status: 410, next_retry_at: null });
		const { job } = await failedJob(tenant.tenantId);
		const owedNow = await env.DB.prepare(
			"SELECT COUNT(*) AS n FROM webhook_messages WHERE endpoint_id = ? AND job_id = ?",
		)
			.bind(endpoint.id, job.id)
			.first<{ n: number }>();
		expect(owedNow?.n).toBe(0);
	});

	it.each([
		["a refusal (400)", "status/400", 400],
		["a redirect, which is not followed", "redirect", 302],
	])("records %s and does not retry it", async (_case, path, status) => {
		const { receiver, endpoint, message, resent, testEnv, headers } = await owed(path);
		await attemptDelivery(message, testEnv);
		expect(resent).toEqual([]);
		const [attempt] = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(attempt).toMatchObject({ outcome: "failed", http_status: status, next_retry_at: null });
		// The redirect's target was never asked.
		expect((await received(receiver)).map((delivery) => delivery.path)).toEqual([`/${receiver}/${path}`]);
	});

	it("sends nothing twice for a duplicated queue message, nor after the delivery succeeded", async () => {
		const { receiver, message, testEnv } = await owed("ok");
		await attemptDelivery(message, testEnv);
		await attemptDelivery(message, testEnv);
		await attemptDelivery({ ...message, attempt: 2 }, testEnv);
		expect(await received(receiver)).toHaveLength(1);
	});

	it("gives up after the last attempt of the schedule", async () => {
		const { endpoint, message, resent, testEnv, headers } = await owed("status/503");
		const last = RETRY_DELAYS_SECONDS.length + 1;
		await env.DB.prepare("UPDATE webhook_messages SET attempts = ? WHERE id = ?")
			.bind(last - 1, message.webhook_message_id)
			.run();
		await attemptDelivery({ ...message, attempt: last }, testEnv);
		expect(resent).toEqual([]);
		const [attempt] = (await deliveries(endpoint.id, "", headers)).deliveries;
		expect(attempt).toMatchObject({ attempt: last, outcome: "failed", next_retry_at: null });
		const row = await env.DB.prepare("SELECT status FROM webhook_messages WHERE id = ?")
			.bind(message.webhook_message_id)
			.first<{ status: string }>();
		expect(row?.status).toBe("failed");
	});

	it("is dropped when its endpoint was deleted meanwhile", async () => {
		const { receiver, endpoint, message, testEnv, headers } = await owed("ok");
		expect((await api(`/v1/webhooks/${endpoint.id}`, { method: "DELETE", headers })).status).toBe(204);
		await attemptDelivery(message, testEnv);
		expect(await received(receiver)).toEqual([]);
	});
});

describe("the retry schedule", () => {
	it("spreads ten attempts over about a day, each delay within what Queues allow", () => {
		expect(RETRY_DELAYS_SECONDS).toHaveLength(9);
		const total = RETRY_DELAYS_SECONDS.reduce((sum, delay) => sum + delay, 0);
		expect(total / 3600).toBeGreaterThan(20);
		expect(total / 3600).toBeLessThan(26);
		for (let attempt = 1; attempt <= RETRY_DELAYS_SECONDS.length; attempt++) {
			const base = RETRY_DELAYS_SECONDS[attempt - 1] as number;
			expect(retryDelaySeconds(attempt, 0)).toBe(Math.round(base * 0.8));
			expect(retryDelaySeconds(attempt, 1)).toBe(Math.min(43_200, Math.round(base * 1.2)));
			expect(retryDelaySeconds(attempt, 1)).toBeLessThanOrEqual(43_200);
		}
		expect(retryDelaySeconds(RETRY_DELAYS_SECONDS.length + 1, 0.5)).toBeNull();
	});
});
