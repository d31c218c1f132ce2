// Binary fixtures are imported as Data modules (see the [[rules]] in wrangler.toml).
declare module "*.tif" {
	const bytes: ArrayBuffer;
	export default bytes;
}

declare module "*.f32" {
	const bytes: ArrayBuffer;
	export default bytes;
}
