/** Public identifiers: a type prefix and 96 random bits, so ids are unguessable and self-describing. */

function randomId(prefix: string): string {
	const bytes = crypto.getRandomValues(new Uint8Array(12));
	return `${prefix}_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export const UPLOAD_ID_PATTERN = /^upl_[0-9a-f]{24}$/;

export const newUploadId = () => randomId("upl");
export const newJobId = () => randomId("job");
