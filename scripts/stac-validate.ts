/**
 * Validates STAC Items with an independent validator (stac-node-validator, Node only: it reads
 * schemas with fs and compiles them with ajv) against the STAC 1.1, extension, GeoJSON and
 * PROJJSON schemas copied under test/fixtures/stac-schemas, so no schema is fetched: every
 * schema URL an Item or a schema names is mapped to those files, and one not mapped would be
 * fetched, fail offline, and count as invalid. Used by scripts/stac-item.test.ts and scripts/e2e.ts.
 */
import { join } from "node:path";
import validate from "stac-node-validator";
import nodeLoader from "stac-node-validator/src/loader/node.js";

const SCHEMAS = join(import.meta.dirname, "..", "test", "fixtures", "stac-schemas");

/** Schema URL prefixes and the folders that hold their files (as the CLI's --schemaMap takes them). */
export const STAC_SCHEMA_MAP: Record<string, string> = {
	"https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/": join(SCHEMAS, "v1.1.0/"),
	"https://stac-extensions.github.io/": join(SCHEMAS, "extensions/"),
	"https://geojson.org/schema/": join(SCHEMAS, "geojson/"),
	"https://proj.org/schemas/": join(SCHEMAS, "projjson/"),
};

export interface StacValidation {
	/** True only when the validator validated the Item and found nothing: a skipped Item is not valid. */
	valid: boolean;
	/** What failed, by schema: `core` or an extension's URL, each message with where it points. */
	errors: string[];
}

/** Validates one STAC Item (as parsed JSON). */
export async function validateStacItem(item: unknown): Promise<StacValidation> {
	const report = await validate(structuredClone(item), { loader: nodeLoader, schemaMap: STAC_SCHEMA_MAP });
	const describe = (schema: string, errors: { instancePath?: string; message?: string }[]) =>
		errors.map((error) => `${schema}: ${error.instancePath ?? ""} ${error.message ?? ""}`.trim());
	const errors = [
		...describe("core", report.results.core),
		...Object.entries(report.results.extensions).flatMap(([schema, found]) => describe(schema, found)),
		...report.messages.map((message) => `message: ${message}`),
	];
	return { valid: report.valid === true && !report.skipped, errors };
}
