// The documents whose numbers are tied to records, relative to the repository root.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPOSITORY_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const DOCUMENTS = [
  "README.md",
  "docs/GRADIENT-AGREEMENT.md",
  "docs/WEIGHTING.md",
  "docs/PERFORMANCE.md",
  "docs/RECORDS.md",
  "docs/REPRODUCTION.md",
  "examples/omniglot/README.md",
  "examples/browser/README.md",
];
