import { concatenated } from "../src/bytes";
import type { Utf8Chunks } from "../src/utf8-chunks";

/** All that `text` holds, its chunks drained and joined. */
export function drained(text: Utf8Chunks): Uint8Array {
	return concatenated([...text.drain()]);
}
