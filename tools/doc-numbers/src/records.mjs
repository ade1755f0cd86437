// Reads the committed records (JSON files) that documents' numbers come from, each file once.
import { readFileSync } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";

/**
 * A `readRecord(file)` for records under `root` (file relative to it, never outside it), caching
 * each parsed file. Throws an Error naming the file when it is missing, outside the root or not JSON.
 */
export function recordReader(root) {
  const cache = new Map();
  return (file) => {
    if (cache.has(file)) return cache.get(file);
    if (isAbsolute(file) || normalize(file).startsWith("..")) throw new Error(`record ${file}: expected a path relative to the repository root`);
    let text;
    try {
      text = readFileSync(join(root, file), "utf8");
    } catch (error) {
      throw new Error(`record ${file} cannot be read (${error.code ?? error.message})`);
    }
    let record;
    try {
      record = JSON.parse(text);
    } catch (error) {
      throw new Error(`record ${file} is not JSON (${error.message})`);
    }
    cache.set(file, record);
    return record;
  };
}
