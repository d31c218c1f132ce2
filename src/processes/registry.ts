/**
 * The processes this deploy runs: a new kind of job is one folder under src/processes/ and one
 * entry here. The worker imports this module once, which registers each with the pipeline.
 */
import { registerProcess } from "../pipeline/processes";
import { indexProcess } from "./index/process";
import { zonalProcess } from "./zonal/process";

export const processes = [indexProcess, zonalProcess] as const;

for (const process of processes) registerProcess(process);
