/**
 * Reads one window of a job's output grid from its inputs, for a process's compute: an input on
 * the target grid is read there as it is (each file decoded once for all of its bands the job
 * uses), an input on another grid is read over only the source pixels the window needs and
 * resampled onto it (src/raster/resample.ts). Remote reads are held to the job's byte budget. A
 * file that cannot be read fails the job as an ApiError naming the input.
 */
import type { JobRecord } from "../db/jobs";
import { inputReadFailure } from "../raster/input-errors";
import { openRasterFile } from "../raster/inputs";
import { type DecodedWindow, type PixelWindow, readWindow } from "../raster/read";
import type { RemoteByteBudget } from "../raster/remote";
import { jobRemoteBudget } from "../raster/remote-budget";
import { planResample } from "../raster/resample";
import { copyRows, SAMPLE_ARRAYS, type SampleArray } from "../raster/samples";
import { fileOf, type InputPlacement, type JobPlan, type PlannedInput } from "./plan";

/**
 * Where an input's samples are: a decoded window (addressed in the output's columns) and its
 * band's position in it, with the value that marks nodata in those samples: the input's own for
 * samples read as they are or copied by nearest resampling, null for weighed ones, where NaN marks it.
 */
export interface DecodedInput {
	window: DecodedWindow;
	position: number;
	nodata: number | null;
}

interface RemoteAccess {
	allowedHosts: readonly string[] | null;
	budget: RemoteByteBudget;
}

/** The window moved by `column`, `row`: the output's window as a window of the target grid. */
function shifted(window: PixelWindow, { column, row }: { column: number; row: number }): PixelWindow {
	return {
		rowStart: window.rowStart + row,
		rowEnd: window.rowEnd + row,
		colStart: window.colStart + column,
		colEnd: window.colEnd + column,
	};
}

/** A decoded window of the target grid seen in the output's columns, `shift` columns to its left. */
function inOutputColumns(window: DecodedWindow, shift: number): DecodedWindow {
	if (shift === 0) return window;
	return {
		...window,
		columns: (colStart, colEnd) => inOutputColumns(window.columns(colStart + shift, colEnd + shift), shift),
	};
}

/** One float32 band held whole for `window`, as a DecodedWindow (nothing stored empty). */
function floatWindow(values: Float32Array, window: PixelWindow): DecodedWindow {
	const width = window.colEnd - window.colStart;
	const view = (colStart: number, colEnd: number): DecodedWindow => {
		if (!(window.colStart <= colStart && colStart < colEnd && colEnd <= window.colEnd)) {
			throw new RangeError(`columns ${colStart}-${colEnd} are not inside ${window.colStart}-${window.colEnd}`);
		}
		const copyBox = (position: number, box: PixelWindow, destination: SampleArray) => {
			if (position !== 0 || !(destination instanceof Float32Array)) {
				throw new RangeError("a resampled input has one float32 band");
			}
			const columns = box.colEnd - box.colStart;
			const inside =
				0 <= box.colStart &&
				columns > 0 &&
				colStart + box.colEnd <= colEnd &&
				0 <= box.rowStart &&
				box.rowStart < box.rowEnd &&
				box.rowEnd <= window.rowEnd - window.rowStart;
			if (!inside) throw new RangeError("the box is not inside the window");
			copyRows(
				values,
				box.rowStart * width + colStart + box.colStart - window.colStart,
				width,
				destination,
				0,
				columns,
				box.rowEnd - box.rowStart,
				columns,
				1,
			);
		};
		return {
			sampleTypes: ["float32"],
			copyBand(position, destination) {
				copyBox(
					position,
					{ rowStart: 0, rowEnd: window.rowEnd - window.rowStart, colStart: 0, colEnd: colEnd - colStart },
					destination,
				);
			},
			copyBox,
			maskEmptyBlocks() {},
			hasEmptyBlocks: () => false,
			columns: view,
			// The values are the runtime's to collect.
			release() {},
		};
	};
	return view(window.colStart, window.colEnd);
}

async function openInput(env: Env, remote: RemoteAccess, input: PlannedInput) {
	const { image } = await openRasterFile(env, {
		objectKey: input.object_key,
		href: input.href,
		bytes: input.bytes,
		etag: input.etag,
		allowedHosts: remote.allowedHosts,
		remoteBudget: remote.budget,
	});
	return image;
}

function readFailure(input: PlannedInput, error: unknown, window: PixelWindow) {
	return inputReadFailure(
		{ name: input.name, uploadId: input.upload_id, href: input.href },
		error,
		`decoding rows ${window.rowStart}-${window.rowEnd}, columns ${window.colStart}-${window.colEnd}`,
	);
}

/**
 * An input on another grid over the target window `target`: its source pixels under the window,
 * decoded (blocks stored empty as NaN), resampled to float32. Nearest keeps each sample as it is,
 * nodata value included, so a mask or a bitwise operator still sees the raw sample; bilinear and
 * average leave nodata out of their weights and give NaN where nothing is left.
 */
async function readResampled(
	env: Env,
	remote: RemoteAccess,
	input: PlannedInput & { placement: InputPlacement },
	target: PixelWindow,
): Promise<Float32Array> {
	const resampling = planResample(input.placement.mapping, target, input.placement.resampling);
	const nodata = keepsSamples(input.placement) ? null : input.nodata;
	const source = resampling.sourceWindow;
	if (!source) return resampling.resample(null, nodata);
	let samples: SampleArray;
	try {
		const decoded = await readWindow(await openInput(env, remote, input), [input.band], source);
		try {
			const [type] = decoded.sampleTypes;
			if (!type) throw new Error("the band was not decoded");
			samples = new SAMPLE_ARRAYS[type]((source.rowEnd - source.rowStart) * (source.colEnd - source.colStart));
			decoded.copyBand(0, samples);
			if (decoded.hasEmptyBlocks(0)) {
				const marked = Float32Array.from(samples);
				decoded.maskEmptyBlocks(0, marked);
				samples = marked;
			}
		} finally {
			decoded.release();
		}
	} catch (error) {
		throw readFailure(input, error, source);
	}
	return resampling.resample(samples, nodata);
}

/** Whether resampling copies source samples as they are (nearest), rather than weighing them. */
function keepsSamples(placement: InputPlacement): boolean {
	return placement.resampling === "nearest";
}

async function readInputs(
	env: Env,
	remote: RemoteAccess,
	plan: JobPlan,
	window: PixelWindow,
): Promise<Map<string, DecodedInput>> {
	const origin = plan.area?.origin ?? { column: 0, row: 0 };
	const target = shifted(window, origin);
	const decodedInputs = new Map<string, DecodedInput>();
	const onTarget = plan.inputs.filter((input) => !input.placement);
	try {
		await readOnTarget(env, remote, onTarget, target, origin.column, decodedInputs);
		for (const input of plan.inputs) {
			if (!input.placement) continue;
			const values = await readResampled(env, remote, { ...input, placement: input.placement }, target);
			const nodata = keepsSamples(input.placement) ? input.nodata : null;
			decodedInputs.set(input.name, { window: floatWindow(values, window), position: 0, nodata });
		}
	} catch (error) {
		releaseWindowInputs(decodedInputs);
		throw error;
	}
	return decodedInputs;
}

/** Reads the inputs on the target grid into `decodedInputs`, each file's window once for all its bands. */
async function readOnTarget(
	env: Env,
	remote: RemoteAccess,
	onTarget: readonly PlannedInput[],
	target: PixelWindow,
	originColumn: number,
	decodedInputs: Map<string, DecodedInput>,
): Promise<void> {
	for (const group of Map.groupBy(onTarget, fileOf).values()) {
		const [first] = group;
		if (!first) continue;
		const bands = [...new Set(group.map((input) => input.band))];
		let decoded: DecodedWindow;
		try {
			decoded = inOutputColumns(await readWindow(await openInput(env, remote, first), bands, target), originColumn);
		} catch (error) {
			throw readFailure(first, error, target);
		}
		for (const input of group) {
			decodedInputs.set(input.name, { window: decoded, position: bands.indexOf(input.band), nodata: input.nodata });
		}
	}
}

/**
 * The output window `window` of every input of the plan, by input name, handed to `use` and
 * released once it settles, so the next window's blocks are decoded where these were: what
 * `use` returns must hold copies, never views of the inputs. Releasing here rather than in each
 * process means no process can keep a window's blocks past its message by forgetting to.
 */
export async function withWindowInputs<T>(
	env: Env,
	job: JobRecord,
	plan: JobPlan,
	window: PixelWindow,
	use: (inputs: ReadonlyMap<string, DecodedInput>) => T | Promise<T>,
): Promise<T> {
	const allowedHosts = job.request.remote?.allowed_hosts ?? null;
	const budget = jobRemoteBudget(env, job.id);
	let inputs: Map<string, DecodedInput>;
	try {
		inputs = await readInputs(env, { allowedHosts, budget }, plan, window);
	} finally {
		await budget.settle();
	}
	try {
		return await use(inputs);
	} finally {
		releaseWindowInputs(inputs);
	}
}

/** Releases decoded windows; their samples are not read after this. */
function releaseWindowInputs(inputs: ReadonlyMap<string, DecodedInput>): void {
	for (const { window } of inputs.values()) window.release();
}
