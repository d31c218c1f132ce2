/** Random identifiers: public ids carry a type prefix and 96 random bits, so they are unguessable and self-describing. */

/** Bytes as lower-case hex, two digits each. */
export function hex(bytes: ArrayBuffer | Uint8Array): string {
	const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	return Array.from(view, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export function randomHex(bytes: number): string {
	return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The SHA-256 of a string or bytes, as hex. */
export async function sha256Hex(data: string | ArrayBuffer): Promise<string> {
	const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
	return hex(await crypto.subtle.digest("SHA-256", bytes));
}

export const UPLOAD_ID_PATTERN = /^upl_[0-9a-f]{24}$/;

export const newUploadId = () => `upl_${randomHex(12)}`;
export const newJobId = () => `job_${randomHex(12)}`;
export const JOB_ID_PATTERN = /^job_[0-9a-f]{24}$/;
export const FIELD_SET_ID_PATTERN = /^fld_[0-9a-f]{24}$/;
export const newFieldSetId = () => `fld_${randomHex(12)}`;
export const WEBHOOK_ID_PATTERN = /^whk_[0-9a-f]{24}$/;
export const newWebhookId = () => `whk_${randomHex(12)}`;
