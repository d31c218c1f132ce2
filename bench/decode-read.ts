/**
 * bench:decode's read of one file, the same under Node (bench/decode.bench.ts) and in workerd
 * (bench/decode-worker.ts): EO Edge's path, every read a ranged read of the file through the
 * block cache (RangedSource, its decoders, readWindow), the window's rows copied into one array
 * as compute copies them into its arena. The caller installs the decoders.
 */
import type { RasterLimits } from "../src/raster/limits";
import { openRangedImage, RangedSource } from "../src/raster/ranged-source";
import { readWindow } from "../src/raster/read";
import { SAMPLE_ARRAYS, type SampleArray } from "../src/raster/samples";

/** Reads of the first `rows` rows of `file`, all bands' first, into one array kept from read to read. */
export function windowReader(file: ArrayBuffer, rows: number, limits: RasterLimits): () => Promise<SampleArray> {
	/**
	 * The storage's answers to ranged reads, made once per range and handed out again on every
	 * read: what the storage costs to answer (R2's buffers, in a Worker) is not the read path's,
	 * and on this kind of machine a fresh buffer of megabytes costs more than decoding it (its
	 * pages are faulted in anew each time).
	 */
	const answers = new Map<string, ArrayBuffer>();
	const storageRead = async (offset: number, length: number) => {
		const key = `${offset}:${length}`;
		let answer = answers.get(key);
		if (!answer) {
			answer = file.slice(offset, offset + length);
			answers.set(key, answer);
		}
		return answer;
	};
	let band: SampleArray | null = null;
	return async () => {
		const source = new RangedSource({ size: file.byteLength, read: storageRead });
		const { image } = await openRangedImage(source, limits);
		const decoded = await readWindow(image, [1], { rowStart: 0, rowEnd: rows, colStart: 0, colEnd: image.getWidth() });
		const [sampleType] = decoded.sampleTypes;
		if (!sampleType) throw new Error("readWindow returned no band");
		band ??= new SAMPLE_ARRAYS[sampleType](rows * image.getWidth());
		decoded.copyBand(0, band);
		decoded.release();
		return band;
	};
}
