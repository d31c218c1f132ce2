/**
 * Bodies that may carry a field collection (POST /v1/fields, and POST /v1/jobs with its zones
 * inline) are refused past FIELDS_MAX_BODY_BYTES before they are read whole and parsed.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../../context";
import { ApiError } from "../../errors/api-error";

export function fieldBodyLimit(problem: (maxSize: number) => string): MiddlewareHandler<AppEnv> {
	return async function limitFieldBody(c, next) {
		const maxSize = c.env.FIELDS_MAX_BODY_BYTES;
		const limit = bodyLimit({
			maxSize,
			onError: () => {
				throw new ApiError("payload-too-large", problem(maxSize));
			},
		});
		return limit(c, next);
	};
}
