import { defineConfig } from "vitest/config";

// Tooling tests (scripts/) run under Node; everything else runs inside workerd (vitest.config.ts).
export default defineConfig({
	test: {
		include: ["scripts/**/*.test.ts"],
		environment: "node",
	},
});
