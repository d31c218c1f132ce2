/**
 * TIFF's floating-point predictor undone, as a reader does, to check what the tile encoder
 * wrote: running byte sums over each row, then the byte planes (most significant first) put
 * back into little-endian float32 samples.
 */
export function undoFloatingPointPredictor(predicted: Uint8Array, width: number, rows: number): Float32Array {
	const rowBytes = width * 4;
	const bytes = new Uint8Array(predicted.length);
	const row = new Uint8Array(rowBytes);
	for (let y = 0; y < rows; y++) {
		let sum = 0;
		for (let i = 0; i < rowBytes; i++) {
			sum = (sum + (predicted[y * rowBytes + i] as number)) & 0xff;
			row[i] = sum;
		}
		for (let x = 0; x < width; x++) {
			for (let plane = 0; plane < 4; plane++)
				bytes[y * rowBytes + x * 4 + 3 - plane] = row[plane * width + x] as number;
		}
	}
	return new Float32Array(bytes.buffer);
}

/**
 * TIFF's horizontal predictor (2) undone, as a reader does, on little-endian samples of
 * `bytesPerSample` (1 or 2) bytes: running sums of each row's samples, modulo 2^bits. Returns
 * the samples' bytes.
 */
export function undoHorizontalPredictor(
	predicted: Uint8Array,
	width: number,
	rows: number,
	bytesPerSample: 1 | 2,
): Uint8Array<ArrayBuffer> {
	const bytes = new Uint8Array(predicted);
	const samples = bytesPerSample === 2 ? new Uint16Array(bytes.buffer) : bytes;
	for (let y = 0; y < rows; y++) {
		for (let x = 1; x < width; x++) {
			const at = y * width + x;
			samples[at] = (samples[at] as number) + (samples[at - 1] as number);
		}
	}
	return bytes;
}
