/**
 * `npm run serve:folder -- <folder> [port]`: serves a folder of COGs and STAC items on
 * http://127.0.0.1:<port> (8000 by default) for a local `npm run dev -- --var
 * ALLOW_LOOPBACK_URLS:true`, as a COG host does: single byte ranges (206 with Content-Range),
 * a strong ETag per file version and If-Match. Python's `http.server` ignores Range, which
 * remote inputs need (docs/stac.md#local-development).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const MEDIA_TYPES: Record<string, string> = {
	".tif": "image/tiff; application=geotiff",
	".tiff": "image/tiff; application=geotiff",
	".json": "application/json",
	".geojson": "application/geo+json",
};

/** A server of `folder`'s files; nothing outside the folder is reachable. */
export function folderServer(folder: string): Server {
	const root = resolve(folder);
	return createServer(async (request, response) => {
		let asked: string;
		try {
			asked = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
		} catch {
			// A malformed escape would otherwise reject this handler and end the process.
			response.writeHead(400).end("malformed path");
			return;
		}
		const path = normalize(join(root, asked));
		const file = path.startsWith(root + sep) ? await stat(path).catch(() => null) : null;
		if (!file?.isFile()) {
			response.writeHead(404).end("not found");
			return;
		}
		const etag = `"${file.size}-${file.mtimeMs}"`;
		const headers = {
			"accept-ranges": "bytes",
			etag,
			"content-type": MEDIA_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
		};
		const ifMatch = request.headers["if-match"];
		if (ifMatch !== undefined && ifMatch !== etag) {
			response.writeHead(412).end();
			return;
		}
		const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? "");
		if (!range) {
			response.writeHead(200, { ...headers, "content-length": file.size });
			createReadStream(path).pipe(response);
			return;
		}
		const [, first = "", last = ""] = range;
		const start = first === "" ? Math.max(0, file.size - Number(last)) : Number(first);
		const end = first === "" || last === "" ? file.size - 1 : Math.min(Number(last), file.size - 1);
		if (start >= file.size || end < start) {
			response.writeHead(416, { "content-range": `bytes */${file.size}` }).end();
			return;
		}
		response.writeHead(206, {
			...headers,
			"content-range": `bytes ${start}-${end}/${file.size}`,
			"content-length": end - start + 1,
		});
		createReadStream(path, { start, end }).pipe(response);
	});
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
	const [folder = ".", port = "8000"] = process.argv.slice(2);
	folderServer(folder).listen(Number(port), "127.0.0.1", () => {
		console.log(`serving ${resolve(folder)} on http://127.0.0.1:${port}/`);
	});
}
