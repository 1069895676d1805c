// Every non-matmul, non-attention kernel (see ARCHITECTURE.md "Ops API"), re-exported for index.ts.
export * from "./layernorm";
export * from "./gelu";
export * from "./residual";
export * from "./dropout";
export * from "./embed";
export * from "./reduce";
export * from "./optim";
