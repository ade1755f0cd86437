// TaskPool setup module of task-pool.test.ts (plain JS: worker threads load it with Node, built packages).
import { meanSquaredError, mlp } from "@concord/models";
import { sgd } from "@concord/optimizers";

export function createTaskSetup({ sizes, lr }) {
  return { model: mlp({ sizes }), objective: meanSquaredError(), innerOptimizer: sgd({ lr }) };
}
