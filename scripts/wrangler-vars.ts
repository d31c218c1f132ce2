/**
 * The worker's vars as wrangler.toml states them, for tools that run the raster-reading
 * modules under Node (the decode bench, the fuzzer) with the limits the worker would apply.
 */
import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { type RasterLimits, rasterLimits } from "../src/raster/limits";

export function wranglerVars(path = "wrangler.toml"): Record<string, unknown> {
	const config = parse(readFileSync(path, "utf8")) as { vars?: Record<string, unknown> };
	return config.vars ?? {};
}

export function wranglerRasterLimits(path = "wrangler.toml"): RasterLimits {
	return rasterLimits(wranglerVars(path) as unknown as Env);
}
