/** @eo-edge/client: the generated SDK for the EO Edge v1 API, and `waitForJob`. */
export { type Client, type Config, createClient, createConfig } from "./generated/client/index.js";
export { client } from "./generated/client.gen.js";
export * from "./generated/index.js";
export { WaitForJobError, type WaitForJobOptions, waitForJob } from "./wait-for-job.js";
