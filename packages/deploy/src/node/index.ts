// Node-only parts of @concord/deploy (file system).
import type { MetaModelFactories } from "../factories.js";
import { type LoadedMetaModel, loadMetaModel as loadFromSource, type MetaModelSource } from "../load.js";
import { folderReader } from "./folder-reader.js";

export { folderReader } from "./folder-reader.js";
export { saveMetaModel } from "./save.js";
export { CLASSIFIER_JSON, CLASSIFIER_WEIGHTS, fewShotClassifier, folderHandler } from "./few-shot.js";

/**
 * `loadMetaModel` of the main entry, plus folder paths: a string that is not an http(s), file or data
 * URL is read as an export folder (or a path to its model.json) on the file system.
 */
export function loadMetaModel(source: MetaModelSource, factories: MetaModelFactories = {}): Promise<LoadedMetaModel> {
  if (typeof source === "string" && !/^(https?|data|blob):/i.test(source)) {
    const dir = source.endsWith(".json") ? source.slice(0, source.lastIndexOf("/") + 1) || "." : source;
    return loadFromSource(folderReader(dir), factories);
  }
  return loadFromSource(source, factories);
}
