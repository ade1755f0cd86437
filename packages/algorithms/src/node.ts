// Node-only parts of @concord/algorithms (worker threads): `@concord/algorithms/node`.
export { createTaskPool, type TaskPool, type TaskPoolOptions } from "./parallel/task-pool.js";
