#!/usr/bin/env node
// `doc-numbers --check`: fails (exit 1) when a number in a document differs from its record.
// `doc-numbers --write`: rewrites the numbers from the records.
//   node tools/doc-numbers/src/cli.mjs --check|--write [--root DIR] [DOCUMENT …]
// Without documents it takes the repository's list (src/documents.mjs).
import { ConcordError } from "@concord/core";
import { checkDocuments, writeDocuments } from "./document.mjs";
import { DOCUMENTS, REPOSITORY_ROOT } from "./documents.mjs";

function parseArguments(argv) {
  const options = { mode: undefined, root: REPOSITORY_ROOT, documents: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--check" || arg === "--write") {
      if (options.mode && options.mode !== arg) throw new ConcordError("expected --check or --write, not both", { field: arg });
      options.mode = arg;
    } else if (arg === "--root") {
      if (argv[i + 1] === undefined) throw new ConcordError("expected a folder after --root", { field: "--root" });
      options.root = argv[++i];
    } else if (arg.startsWith("--")) throw new ConcordError("unknown option (expected --check, --write, --root DIR)", { field: arg });
    else options.documents.push(arg);
  }
  if (!options.mode) throw new ConcordError("expected --check or --write", { field: "mode" });
  if (options.documents.length === 0) options.documents = DOCUMENTS;
  return options;
}

try {
  const options = parseArguments(process.argv.slice(2));
  if (options.mode === "--write") {
    const changed = writeDocuments(options.root, options.documents);
    console.log(changed.length === 0 ? "doc-numbers: every number already matches its record" : `doc-numbers: rewrote ${changed.join(", ")}`);
  } else {
    const { markers, mismatches } = checkDocuments(options.root, options.documents);
    for (const m of mismatches) console.error(`${m.document}:${m.line}: says ${m.written}, its record gives ${m.rendered} (${m.expression})`);
    console.log(`doc-numbers: ${markers} numbers in ${options.documents.length} documents, ${mismatches.length} differ from their records`);
    process.exitCode = mismatches.length === 0 ? 0 : 1;
  }
} catch (error) {
  console.error(error instanceof ConcordError ? error.message : error);
  process.exitCode = 2;
}
