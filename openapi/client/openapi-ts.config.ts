import { defineConfig, type UserConfig } from "@hey-api/openapi-ts";

/** The generator settings; `npm run client` writes src/generated, the contract check regenerates and compares. */
export const generatorConfig = {
	input: "../v1.json",
	output: { path: "src/generated", module: { extension: ".js" } },
	plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
} as const satisfies UserConfig;

export default defineConfig(generatorConfig);
