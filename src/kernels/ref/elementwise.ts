/**
 * Reference kernels of asm/elementwise.ts (layernorm, gelu, residual, dropout, embed, reductions,
 * optimizer), merged under the Wasm export names.
 *
 * @module
 */
import type { RefKernel } from "../../engine/backend.ts";
import { layernormRefKernels } from "./layernorm.ts";
import { geluRefKernels } from "./gelu.ts";
import { residualRefKernels } from "./residual.ts";
import { dropoutRefKernels } from "./dropout.ts";
import { embedRefKernels } from "./embed.ts";
import { reduceRefKernels } from "./reduce.ts";
import { optimRefKernels } from "./optim.ts";

/**
 * Every reference kernel of asm/elementwise.ts by name.
 *
 * @example
 * ```ts
 * import { elementwiseKernels } from "./elementwise.ts";
 * console.log(typeof elementwiseKernels.layernorm_forward); // function
 * ```
 */
export const elementwiseKernels: Record<string, RefKernel> = {
  ...layernormRefKernels,
  ...geluRefKernels,
  ...residualRefKernels,
  ...dropoutRefKernels,
  ...embedRefKernels,
  ...reduceRefKernels,
  ...optimRefKernels,
};
