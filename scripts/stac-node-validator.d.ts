/** The parts of stac-node-validator 2.0.0 (CommonJS, untyped) that scripts/stac-validate.ts uses. */
declare module "stac-node-validator" {
	interface SchemaError {
		instancePath?: string;
		message?: string;
	}
	interface Report {
		valid: boolean | null;
		skipped: boolean;
		messages: string[];
		results: { core: SchemaError[]; extensions: Record<string, SchemaError[]>; custom: SchemaError[] };
	}
	interface Config {
		loader?: (uri: string) => Promise<unknown>;
		schemaMap?: Record<string, string>;
		strict?: boolean;
	}
	export default function validate(data: unknown, config?: Config): Promise<Report>;
}

declare module "stac-node-validator/src/loader/node.js" {
	export default function loader(uri: string): Promise<unknown>;
}
