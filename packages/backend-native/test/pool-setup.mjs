// TaskPool setup module of native-pool.test.ts (plain JS: worker threads load it with Node, built packages).
import { convNet, softmaxCrossEntropy } from "@concord/models";
import { sgd } from "@concord/optimizers";

export function createTaskSetup({ convNetOptions, lr }) {
  return { model: convNet(convNetOptions), objective: softmaxCrossEntropy(), innerOptimizer: sgd({ lr }) };
}
