/**
 * Masks: pixels a job drops before any statistic, from a class or bit band (Sentinel-2's scene
 * classification, Landsat Collection 2's QA_PIXEL). A rule is tested on the mask input's raw
 * sample, before any scale and offset.
 */
import type { SampleArray } from "./samples";

/** Drop where the sample is one of `classes`, or has any of `bits` set (bit 0 the lowest). */
export type MaskRule = { classes: readonly number[] } | { bits: readonly number[] };

/**
 * Named rules for the archives' own quality bands:
 * - `sentinel-2-scl`: Sentinel-2 L2A scene classes no data (0), saturated or defective (1),
 *   cloud shadow (3), cloud medium (8) and high probability (9), thin cirrus (10);
 * - `landsat-qa-pixel`: Landsat Collection 2 QA_PIXEL bits fill (0), dilated cloud (1),
 *   cirrus (2), cloud (3) and cloud shadow (4).
 */
export const MASK_PRESETS = {
	"sentinel-2-scl": { classes: [0, 1, 3, 8, 9, 10] },
	"landsat-qa-pixel": { bits: [0, 1, 2, 3, 4] },
} as const satisfies Record<string, MaskRule>;

export type MaskPreset = keyof typeof MASK_PRESETS;

/** The largest bit a rule may test: the mask input's sample is read as a 32-bit integer. */
export const MAX_MASK_BIT = 31;

/** How a pixel fares under the mask: kept, dropped by the rule, or nodata in the mask input. */
function classifier(rule: MaskRule, nodata: number | null): (sample: number) => "kept" | "masked" | "nodata" {
	if ("classes" in rule) {
		const classes = new Set(rule.classes);
		return (sample) => {
			if (classes.has(sample)) return "masked";
			return sample === nodata || Number.isNaN(sample) ? "nodata" : "kept";
		};
	}
	// Unsigned, so bit 31 tests as the others do.
	const bits = rule.bits.reduce((mask, bit) => (mask | (1 << bit)) >>> 0, 0);
	return (sample) => {
		if (Number.isNaN(sample)) return "nodata";
		if (((sample >>> 0) & bits) !== 0) return "masked";
		return sample === nodata ? "nodata" : "kept";
	};
}

/**
 * Applies the mask to `output` (the same pixels as `samples`, row-major): a pixel the rule drops
 * becomes NaN and is counted as masked, even where it is also nodata; a pixel that is nodata in
 * the mask input becomes NaN (nodata). Pixels `considered` marks 0 (outside an area of interest)
 * are left to the caller and not counted. Returns how many pixels the rule dropped.
 */
export function applyMask(
	output: Float32Array,
	samples: SampleArray,
	rule: MaskRule,
	nodata: number | null,
	considered: Uint8Array | null = null,
): number {
	if (samples.length !== output.length) {
		throw new RangeError(`the mask has ${samples.length} samples for ${output.length} pixels`);
	}
	const classify = classifier(rule, nodata);
	let masked = 0;
	for (let i = 0; i < output.length; i++) {
		if (considered?.[i] === 0) continue;
		const fate = classify(samples[i] as number);
		if (fate === "kept") continue;
		output[i] = Number.NaN;
		if (fate === "masked") masked++;
	}
	return masked;
}

/** What the mask makes of a pixel, for a caller that weighs pixels itself: kept, dropped, or nodata. */
export const MASK_FATE = { kept: 0, masked: 1, nodata: 2 } as const;

/** The fate under the mask of each pixel of `samples` (MASK_FATE's codes). */
export function maskFates(samples: SampleArray, rule: MaskRule, nodata: number | null): Uint8Array {
	const classify = classifier(rule, nodata);
	const fates = new Uint8Array(samples.length);
	for (let i = 0; i < samples.length; i++) fates[i] = MASK_FATE[classify(samples[i] as number)];
	return fates;
}
