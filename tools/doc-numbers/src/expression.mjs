// The expression inside a number marker: a record reference, a number, or a function of those.
//
//   examples/omniglot/results/paper/paired-20000.json#accuracy[3]      one value of one record
//   @P/maml+uniform/seed-{0,1,2}/evaluation.json#accuracy[3].mean       a list (brace list, alias @P)
//   mean(@LN/maml+uniform/seed-{0,1,2}/evaluation.json#accuracy[3].mean)
//   sub(1, div(@A#x, @B#x)), add(…), mul(…)                             arithmetic
//   bench/results.json#rows[workload=omniglot-maml1,backend=native,execution=parallel].ratio
import { expandBraces } from "./braces.mjs";
import { valueAtPath } from "./json-path.mjs";

const FUNCTIONS = {
  /** Arithmetic mean of every number in the arguments (lists flattened). */
  mean: (args) => {
    const values = numbers(args, "mean");
    return values.reduce((total, x) => total + x, 0) / values.length;
  },
  min: (args) => Math.min(...numbers(args, "min")),
  max: (args) => Math.max(...numbers(args, "max")),
  /** a + b; a list on either side is taken element by element. */
  add: (args) => binary(args, "add", (a, b) => a + b),
  /** a − b; a list on either side is taken element by element. */
  sub: (args) => binary(args, "sub", (a, b) => a - b),
  /** a · b; a list on either side is taken element by element. */
  mul: (args) => binary(args, "mul", (a, b) => a * b),
  /** a / b; a list on either side is taken element by element. */
  div: (args) => binary(args, "div", (a, b) => a / b),
  /** Every argument's values as one list (for the `range` format over several paths). */
  list: (args) => args.flat(),
};

/** Parses `text` into a tree: { number } | { ref } | { call, args }. Throws an Error on a syntax error. */
export function parseExpression(text) {
  const parser = { text, at: 0 };
  const tree = parseTerm(parser);
  skipSpace(parser);
  if (parser.at !== text.length) throw new Error(`unexpected "${text.slice(parser.at)}" after the expression`);
  return tree;
}

function skipSpace(parser) {
  while (parser.at < parser.text.length && /\s/.test(parser.text[parser.at])) parser.at++;
}

function parseTerm(parser) {
  skipSpace(parser);
  const rest = parser.text.slice(parser.at);
  const call = /^([a-z]+)\(/.exec(rest);
  if (call) {
    if (!Object.hasOwn(FUNCTIONS, call[1])) throw new Error(`unknown function ${call[1]}() (known: ${Object.keys(FUNCTIONS).join(", ")})`);
    parser.at += call[0].length;
    const args = [parseTerm(parser)];
    skipSpace(parser);
    while (parser.text[parser.at] === ",") {
      parser.at++;
      args.push(parseTerm(parser));
      skipSpace(parser);
    }
    if (parser.text[parser.at] !== ")") throw new Error(`expected "," or ")" in ${call[1]}(…) at "${parser.text.slice(parser.at)}"`);
    parser.at++;
    return { call: call[1], args };
  }
  // A reference or a number runs to the next "," or ")" outside a brace list or a [selector].
  let end = parser.at;
  let depth = 0;
  for (; end < parser.text.length; end++) {
    const char = parser.text[end];
    if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") depth--;
    else if (depth === 0 && (char === "," || char === ")")) break;
  }
  const term = parser.text.slice(parser.at, end).trim();
  parser.at = end;
  if (term === "") throw new Error(`expected a record reference or a number at "${rest}"`);
  if (/^[+-]?\d+(\.\d+)?$/.test(term)) return { number: Number(term) };
  if (!term.includes("#")) throw new Error(`"${term}" is neither a number nor a record reference FILE#PATH`);
  return { ref: term };
}

/**
 * The value of a parsed expression. `readRecord(file)` returns a record's parsed JSON (file relative
 * to the repository root); `aliases` maps NAME to a folder for references written `@NAME/…`.
 * A reference with a brace list gives a list; errors name the record and path that failed.
 */
export function evaluateExpression(tree, readRecord, aliases = new Map()) {
  if ("number" in tree) return tree.number;
  if ("call" in tree) return FUNCTIONS[tree.call](tree.args.map((arg) => evaluateExpression(arg, readRecord, aliases)));
  const hash = tree.ref.indexOf("#");
  const file = withAlias(tree.ref.slice(0, hash).trim(), aliases);
  const path = tree.ref.slice(hash + 1).trim();
  const files = expandBraces(file);
  const values = files.flatMap((oneFile) => expandBraces(path).map((onePath) => valueIn(readRecord(oneFile), oneFile, onePath)));
  return files.length === 1 && !path.includes("{") ? values[0] : values;
}

/** Every record file a parsed expression reads (aliases resolved, brace lists expanded). */
export function recordFiles(tree, aliases = new Map()) {
  if ("number" in tree) return [];
  if ("call" in tree) return tree.args.flatMap((arg) => recordFiles(arg, aliases));
  return expandBraces(withAlias(tree.ref.slice(0, tree.ref.indexOf("#")).trim(), aliases));
}

function withAlias(file, aliases) {
  if (!file.startsWith("@")) return file;
  const slash = file.indexOf("/");
  const name = file.slice(1, slash < 0 ? undefined : slash);
  if (!aliases.has(name)) throw new Error(`unknown alias @${name} (define it with <!-- n-alias ${name}=FOLDER -->)`);
  return `${aliases.get(name)}${slash < 0 ? "" : file.slice(slash)}`;
}

function valueIn(record, file, path) {
  try {
    return valueAtPath(record, path);
  } catch (error) {
    throw new Error(`record ${file}: ${error.message}`);
  }
}

function numbers(args, name) {
  const flat = args.flat();
  if (flat.length === 0) throw new Error(`${name}() of nothing`);
  for (const x of flat) if (typeof x !== "number" || !Number.isFinite(x)) throw new Error(`${name}() expects numbers, got ${JSON.stringify(x)}`);
  return flat;
}

function binary(args, name, operation) {
  const valid = (x) => (Array.isArray(x) ? x.length > 0 && x.every(valid) : typeof x === "number" && Number.isFinite(x));
  const [a, b] = args;
  const sameLength = !Array.isArray(a) || !Array.isArray(b) || a.length === b.length;
  if (args.length !== 2 || !valid(a) || !valid(b) || !sameLength) {
    throw new Error(`${name}() expects two numbers, or lists of numbers of one length, got ${JSON.stringify(args)}`);
  }
  if (Array.isArray(a)) return a.map((x, i) => operation(x, Array.isArray(b) ? b[i] : b));
  if (Array.isArray(b)) return b.map((y) => operation(a, y));
  return operation(a, b);
}
