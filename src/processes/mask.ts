/**
 * A job's mask as every process takes it: a rule on one input's raw samples (classes, bits or a
 * named preset), and the rule it applies.
 */
import { z } from "@hono/zod-openapi";
import type { JobRequest } from "../db/jobs";
import { MASK_PRESETS, MAX_MASK_BIT, type MaskPreset, type MaskRule } from "../raster/mask";

export const MaskSchema = z
	.strictObject({
		input: z.string().min(1).openapi({
			description:
				"The input whose raw samples (before scale and offset) the rule tests; it need not appear in the formula",
			example: "scl",
		}),
		classes: z
			.array(z.number().int())
			.min(1)
			.max(256)
			.optional()
			.openapi({ description: "Drop pixels whose sample is one of these values", example: [3, 8, 9, 10] }),
		bits: z
			.array(z.number().int().min(0).max(MAX_MASK_BIT))
			.min(1)
			.max(MAX_MASK_BIT + 1)
			.optional()
			.openapi({ description: "Drop pixels with any of these bits set (bit 0 is the lowest)", example: [1, 3, 4] }),
		preset: z
			.enum(Object.keys(MASK_PRESETS) as [MaskPreset, ...MaskPreset[]])
			.optional()
			.openapi({
				description:
					"`sentinel-2-scl`: classes 0, 1, 3, 8, 9, 10 (no data, saturated, cloud shadow, cloud medium and high probability, thin cirrus); `landsat-qa-pixel`: bits 0 to 4 (fill, dilated cloud, cirrus, cloud, cloud shadow)",
				example: "sentinel-2-scl",
			}),
	})
	.refine((mask) => [mask.classes, mask.bits, mask.preset].filter((rule) => rule !== undefined).length === 1, {
		message: "give exactly one of classes, bits and preset",
	})
	.openapi("Mask", {
		description:
			"Pixels to drop before any statistic: NaN in result.tif and counted in stats.json's masked_count, apart from nodata_count",
	});

/** The rule a request's mask applies. */
export function maskRule(mask: NonNullable<JobRequest["mask"]>): MaskRule {
	if (mask.preset !== undefined) return MASK_PRESETS[mask.preset as MaskPreset];
	if (mask.bits !== undefined) return { bits: mask.bits };
	if (mask.classes !== undefined) return { classes: mask.classes };
	throw new Error("the mask has no rule");
}
