// Renders, checks and rewrites the numbers of Markdown documents from their records.
import { renameSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConcordError } from "@concord/core";
import { evaluateExpression, parseExpression } from "./expression.mjs";
import { formatValue, parseFormat } from "./formats.mjs";
import { findMarkers } from "./markers.mjs";
import { recordReader } from "./records.mjs";

/**
 * Every marker of one document with the number its record gives: { line, expression, format,
 * written, rendered, start, end }, and the document's text with every number rendered. Throws one
 * ConcordError (field: the document) listing every marker that cannot be rendered, by line.
 */
export function renderDocument(name, text, readRecord) {
  const { markers, aliases, problems } = findMarkers(text);
  const rendered = [];
  for (const marker of markers) {
    try {
      const value = evaluateExpression(parseExpression(marker.expression), readRecord, aliases);
      rendered.push({ ...marker, rendered: formatValue(value, parseFormat(marker.format)) });
    } catch (error) {
      problems.push({ line: marker.line, message: `<!-- n:${marker.expression} | ${marker.format} -->: ${error.message}` });
    }
  }
  if (problems.length > 0) {
    const lines = problems.sort((a, b) => a.line - b.line).map((problem) => `  ${name}:${problem.line}: ${problem.message}`);
    throw new ConcordError(`${problems.length} number marker(s) cannot be rendered from their records:\n${lines.join("\n")}`, { field: name });
  }
  let out = "";
  let at = 0;
  for (const marker of rendered) {
    out += text.slice(at, marker.start) + marker.rendered;
    at = marker.end;
  }
  return { markers: rendered, text: out + text.slice(at) };
}

/**
 * Compares each document's numbers with its records (documents relative to `root`). Returns
 * { markers, mismatches: [{ document, line, expression, written, rendered }] }; throws a ConcordError
 * when a document is missing or a marker cannot be rendered.
 */
export function checkDocuments(root, documents) {
  const readRecord = recordReader(root);
  const mismatches = [];
  let markers = 0;
  for (const document of documents) {
    const result = renderDocument(document, readDocument(root, document), readRecord);
    markers += result.markers.length;
    for (const marker of result.markers) {
      if (marker.written !== marker.rendered)
        mismatches.push({ document, line: marker.line, expression: marker.expression, written: marker.written, rendered: marker.rendered });
    }
  }
  return { markers, mismatches };
}

/**
 * Rewrites every marker's number from its record. Every document is rendered before any is written,
 * so a marker that fails leaves all documents as they were; each changed document is replaced
 * atomically (written beside it, then renamed). Returns the documents it changed.
 */
export function writeDocuments(root, documents) {
  const readRecord = recordReader(root);
  const results = documents.map((document) => {
    const before = readDocument(root, document);
    return { document, before, after: renderDocument(document, before, readRecord).text };
  });
  const changed = results.filter(({ before, after }) => before !== after);
  for (const { document, after } of changed) {
    const path = join(root, document);
    writeFileSync(`${path}.doc-numbers.tmp`, after);
    renameSync(`${path}.doc-numbers.tmp`, path);
  }
  return changed.map(({ document }) => document);
}

function readDocument(root, document) {
  try {
    return readFileSync(join(root, document), "utf8");
  } catch (error) {
    throw new ConcordError(`document cannot be read (${error.code ?? error.message})`, { field: document });
  }
}
