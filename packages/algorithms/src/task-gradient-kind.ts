/**
 * Which per-task meta-gradient to compute alongside θ'_i. Its own module because both the
 * in-process path (task-results.ts) and the worker-thread pool (parallel/task-pool.ts) name it,
 * and neither may import the other's module for it (that was an import cycle).
 */
export type TaskGradientKind = "second-order" | "first-order" | "none";
