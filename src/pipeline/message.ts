/** Every queue message carries its job and the trace that started it. */
import { z } from "zod";

export const jobMessage = z.object({
	job_id: z.string().min(1),
	trace_id: z.string().regex(/^[0-9a-f]{32}$/),
	/** When it was sent (src/pipeline/send.ts); absent on messages from before it was stamped. */
	sent_at: z.iso.datetime().optional(),
});

export type JobMessage = z.infer<typeof jobMessage>;
