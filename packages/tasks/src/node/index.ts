// Node-only parts of @concord/tasks (file system, caching): import from "@concord/tasks/node".
export { loadImageFolder, type ImageFolderOptions, type LoadedImageFolder } from "./image-folder.js";
export { loadOmniglot, OMNIGLOT_SETS, type MamlSplit, type MamlSplitOptions, type Omniglot, type OmniglotOptions } from "./omniglot.js";
// resizeArea is platform-neutral (it lives in the main entry; re-exported here for existing imports).
export { resizeArea } from "../resize.js";
export { decodeImage, type DecodedImage } from "./decode-image.js";
export { defaultCacheDir } from "./dataset-cache.js";
export type { CacheOptions } from "./load-packed.js";
export {
  defaultOmniglotDir,
  OMNIGLOT_DOWNLOAD_HINT,
  OMNIGLOT_PRESETS,
  OMNIGLOT_ANIL_PRESET,
  OMNIGLOT_LABEL_NOISE_PRESET,
  omniglotFamily,
  type OmniglotTasksOptions,
  omniglotTasks,
  resolveOmniglotDir,
} from "./omniglot-family.js";
