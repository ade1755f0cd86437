// Finds the number markers and aliases in a Markdown text. A marker is invisible on GitHub:
//
//   <!-- n:EXPRESSION | FORMAT -->96.87<!-- /n -->      the number between is what readers see
//   <!-- n-alias P=examples/omniglot/results/paper -->  lets a reference start with @P/
//
// Markers and aliases inside code (fenced blocks and `inline spans`) are examples, not markers, and
// are skipped.

const MARKER = /<!--\s*n:([^\n]*?)-->([^\n]*?)<!--\s*\/n\s*-->/g;
const OPENING = /<!--\s*n:/g;
const ALIAS = /<!--\s*n-alias\s+([^\n]*?)\s*-->/g;

/** The character ranges [start, end) of code: fenced blocks (``` or ~~~; an unclosed one to the end) and inline spans. */
function fencedRanges(text) {
  const ranges = [];
  let open;
  for (const line of text.matchAll(/^( {0,3})(`{3,}|~{3,})[^\n]*$/gm)) {
    if (open === undefined) open = { start: line.index, fence: line[2] };
    else if (line[2][0] === open.fence[0] && line[2].length >= open.fence.length) {
      ranges.push([open.start, line.index + line[0].length]);
      open = undefined;
    }
  }
  if (open !== undefined) ranges.push([open.start, text.length]);
  for (const span of text.matchAll(/`[^`\n]+`/g)) ranges.push([span.index, span.index + span[0].length]);
  return ranges;
}

/** 1-based line of a character offset. */
export function lineOf(text, offset) {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * Every marker outside code blocks: { line, expression, format, written, start, end } with
 * [start, end) the range of the written number; plus the aliases and the syntax problems found
 * ({ line, message }: an opening without its closing `<!-- /n -->` on the same line, a marker without
 * a format, a malformed or repeated alias).
 */
export function findMarkers(text) {
  const fenced = fencedRanges(text);
  const outside = (index) => !fenced.some(([start, end]) => index >= start && index < end);
  const problems = [];
  const markers = [];
  const opened = new Set();
  for (const match of text.matchAll(MARKER)) {
    if (!outside(match.index)) continue;
    opened.add(match.index);
    const line = lineOf(text, match.index);
    const bar = match[1].lastIndexOf("|");
    if (bar < 0) {
      problems.push({ line, message: `marker "${match[1].trim()}" has no "| FORMAT" (e.g. "| pct2 ci")` });
      continue;
    }
    const start = match.index + match[0].indexOf("-->") + 3;
    markers.push({
      line,
      expression: match[1].slice(0, bar).trim(),
      format: match[1].slice(bar + 1).trim(),
      written: match[2],
      start,
      end: start + match[2].length,
    });
  }
  for (const match of text.matchAll(OPENING)) {
    if (outside(match.index) && !opened.has(match.index)) {
      problems.push({ line: lineOf(text, match.index), message: 'a "<!-- n:" marker without its closing "<!-- /n -->" on the same line' });
    }
  }
  const aliases = new Map();
  for (const match of text.matchAll(ALIAS)) {
    if (!outside(match.index)) continue;
    const line = lineOf(text, match.index);
    const alias = /^([A-Za-z][\w-]*)=(\S+)$/.exec(match[1]);
    if (!alias) problems.push({ line, message: `alias "${match[1]}" is not NAME=FOLDER` });
    else if (aliases.has(alias[1])) problems.push({ line, message: `alias ${alias[1]} is defined twice` });
    else aliases.set(alias[1], alias[2].replace(/\/$/, ""));
  }
  return { markers, aliases, problems: problems.sort((a, b) => a.line - b.line) };
}
