/**
 * Opens a job's input, or an upload, in the Worker: through ranged reads of its R2 object or
 * of its remote URL, with EO Edge's decoders installed in geotiff.js.
 */
import { installDecoders } from "./decoders";
import { rasterLimits } from "./limits";
import { r2RangeReader } from "./r2-reader";
import { openRangedImage, type RangedImage, RangedSource, type RangeReader } from "./ranged-source";
import { type RemoteByteBudget, remoteAccess, remoteHref, remoteRangeReader } from "./remote";

let decodersInstalled: Promise<void> | null = null;

/**
 * The decoder Wasm is imported on first use, not with this module: the app's module graph
 * (routes included) is also loaded under Node by `npm run openapi`, where a Wasm module with
 * imports cannot load as an ES module.
 */
function installWorkerDecoders(): Promise<void> {
	decodersInstalled ??= import("../wasm/codecs").then(({ workerCodecs }) => installDecoders(workerCodecs));
	return decodersInstalled;
}

/** Where a raster file is: exactly one of an R2 object key or a remote HTTPS URL. */
export interface RasterFile {
	objectKey: string | null;
	href: string | null;
	bytes: number;
	/** A remote file's ETag when the job first read it (see src/raster/remote.ts). */
	etag?: string | null;
	/** The job's `remote.allowed_hosts`, which every redirect of a remote file must also pass. */
	allowedHosts: readonly string[] | null;
	/** What the job may still read from remote files; required to open one. */
	remoteBudget?: RemoteByteBudget;
}

/**
 * Opens the file's first image, or the one at `imageIndex` (a COG's overviews follow it), once the
 * header has passed the structure checks and limits.
 */
export async function openRasterFile(env: Env, file: RasterFile, imageIndex = 0): Promise<RangedImage> {
	await installWorkerDecoders();
	let reader: RangeReader;
	if (file.href !== null) {
		if (!file.remoteBudget) throw new Error("a remote file is read only against its job's byte budget");
		reader = remoteRangeReader(
			remoteHref.parse(file.href),
			{ bytes: file.bytes, etag: file.etag ?? null },
			remoteAccess(env, file.allowedHosts),
			file.remoteBudget,
		);
	} else if (file.objectKey !== null) {
		reader = r2RangeReader(env.BUCKET, file.objectKey, file.bytes);
	} else {
		throw new Error("a raster file needs an object key or an href");
	}
	return openRangedImage(new RangedSource(reader), rasterLimits(env), imageIndex);
}
