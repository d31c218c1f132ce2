// The part of Esri's LERC 3 JavaScript decoder (package "lerc", no type declarations) used here.
declare module "lerc" {
	interface LercDecoded {
		width: number;
		height: number;
		pixels: ArrayBufferView[];
		mask: Uint8Array | null;
	}
	const Lerc: {
		decode(input: ArrayBuffer, options?: { returnPixelInterleavedDims?: boolean }): LercDecoded;
	};
	export default Lerc;
}
