import { defineConfig } from "vitest/config";

// Tooling tests (scripts/) and the partner client's own tests run under Node; everything else runs inside workerd (vitest.config.ts).
export default defineConfig({
	test: {
		include: ["scripts/**/*.test.ts", "openapi/client/test/**/*.test.ts"],
		environment: "node",
	},
});
