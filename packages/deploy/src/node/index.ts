// Node-only parts of @concord/deploy (file system).
import { type LoadedMetaModel, loadMetaModel as loadFromSource, type MetaModelLoadOptions, type MetaModelSource } from "../load.js";
import { folderReader } from "./folder-reader.js";

export { folderReader } from "./folder-reader.js";
export { saveMetaModel } from "./save.js";
export { CLASSIFIER_JSON, CLASSIFIER_WEIGHTS, fewShotClassifier, folderHandler } from "./few-shot.js";

/**
 * `loadMetaModel` of the main entry, plus folder paths: a string that is not an http(s), file or data
 * URL is read as an export folder (or a path to its model.json) on the file system, with the same
 * checks and caps (`options`).
 */
export function loadMetaModel(source: MetaModelSource, options: MetaModelLoadOptions = {}): Promise<LoadedMetaModel> {
  if (typeof source === "string" && !/^(https?|data|blob):/i.test(source)) {
    const dir = source.endsWith(".json") ? source.slice(0, source.lastIndexOf("/") + 1) || "." : source;
    return loadFromSource(folderReader(dir), options);
  }
  return loadFromSource(source, options);
}
