// Entry point of the kernel module: every kernel file is re-exported here.
// Conventions (see ARCHITECTURE.md): pointers are byte offsets (usize) into the imported shared
// memory, shapes are explicit i32 counts, the last two parameters are the task range t0, t1.
// Kernels never allocate (--runtime stub).

export * from "./linear";
export * from "./elementwise";
export * from "./attention";

/** First byte the TypeScript arena may use. */
export function heap_base(): usize {
  return __heap_base;
}
