/**
 * Registry of the TypeScript reference kernels, by the same names and signatures as the Wasm
 * exports (`(heap, ...args, t0, t1)`).
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import { linearKernels } from "./linear.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { attentionKernels } from "./attention.ts";

/** Every reference kernel by name. */
export const refKernels: Record<string, RefKernel> = {
  ...linearKernels,
  ...elementwiseKernels,
  ...attentionKernels,
};
