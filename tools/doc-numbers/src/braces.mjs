// Shell-style brace lists in a record reference: `seed-{0,1,2}/evaluation.json` names three records.

/** Every string the brace lists in `text` stand for, in order (the cartesian product of several lists). */
export function expandBraces(text) {
  const open = text.indexOf("{");
  if (open < 0) {
    if (text.includes("}")) throw new Error(`"${text}" has a "}" without its "{"`);
    return [text];
  }
  const close = text.indexOf("}", open);
  if (close < 0) throw new Error(`"${text}" has a "{" without its "}"`);
  const choices = text.slice(open + 1, close).split(",");
  if (choices.some((choice) => choice.includes("{"))) throw new Error(`"${text}" nests braces; write one list per place`);
  const rest = expandBraces(text.slice(close + 1));
  return choices.flatMap((choice) => rest.map((tail) => `${text.slice(0, open)}${choice}${tail}`));
}
