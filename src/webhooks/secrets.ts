/**
 * Webhook signing secrets: made (`whsec_` and base64 of 32 random bytes, as Standard Webhooks
 * writes them), and sealed for D1 with AES-256-GCM under the Worker secret WEBHOOK_SECRETS_KEY
 * (base64 of 32 bytes). A secret must be usable to sign, so it cannot be hashed like an API key;
 * a copy of the database alone does not reveal it. Local development and the tests use the
 * public key of ./development-key.ts.
 */
import { base64, fromBase64 } from "../base64";
import { ApiError } from "../errors/api-error";

const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;
const IV_BYTES = 12;

export function newWebhookSecret(): string {
	return `${SECRET_PREFIX}${base64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** The AES key of WEBHOOK_SECRETS_KEY; a 503 problem when the worker has none (or a malformed one). */
export async function secretsKey(env: { WEBHOOK_SECRETS_KEY?: string }): Promise<CryptoKey> {
	const configured = env.WEBHOOK_SECRETS_KEY;
	let raw: Uint8Array<ArrayBuffer> | null = null;
	try {
		// The operator's value is read as atob reads it (whitespace and missing padding forgiven).
		raw = configured ? Uint8Array.from(atob(configured.trim()), (char) => char.charCodeAt(0)) : null;
	} catch {
		raw = null;
	}
	if (raw?.length !== 32) {
		throw new ApiError(
			"webhooks-unavailable",
			"Webhooks are not configured on this deployment (its operator has not set WEBHOOK_SECRETS_KEY); try again later.",
		);
	}
	return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** The secret encrypted, as base64 of a random IV followed by the ciphertext and tag. */
export async function sealSecret(key: CryptoKey, secret: string): Promise<string> {
	const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
	const sealed = new Uint8Array(
		await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(secret)),
	);
	const joined = new Uint8Array(IV_BYTES + sealed.length);
	joined.set(iv);
	joined.set(sealed, IV_BYTES);
	return base64(joined);
}

export async function openSecret(key: CryptoKey, sealed: string): Promise<string> {
	const joined = fromBase64(sealed);
	const opened = await crypto.subtle.decrypt(
		{ name: "AES-GCM", iv: joined.slice(0, IV_BYTES) },
		key,
		joined.slice(IV_BYTES),
	);
	return new TextDecoder().decode(opened);
}
