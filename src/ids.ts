/** Random identifiers: public ids carry a type prefix and 96 random bits, so they are unguessable and self-describing. */

export function randomHex(bytes: number): string {
	return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) => byte.toString(16).padStart(2, "0")).join(
		"",
	);
}

export const UPLOAD_ID_PATTERN = /^upl_[0-9a-f]{24}$/;

export const newUploadId = () => `upl_${randomHex(12)}`;
export const newJobId = () => `job_${randomHex(12)}`;
