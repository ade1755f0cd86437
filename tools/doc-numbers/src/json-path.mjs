// A record's value at a path such as `arms[0].evaluation.accuracy[3].mean` or
// `runs.maml+agreement seed-0.training.early.effectiveTasks` (keys may hold spaces and `+`, not `.`).

/**
 * The path's steps: object keys (strings), array indices (numbers) and array selectors
 * ({ selector: [[key, value], …] }: the one element whose keys have those values, compared as text).
 * `rows[workload=omniglot-maml1,execution=parallel].ratio` → ["rows", { selector }, "ratio"].
 */
export function parseJsonPath(path) {
  const steps = [];
  for (const token of path.matchAll(/\[([^\]]*)\]|([^.[\]]+)|(\.)|(.)/g)) {
    const [, bracket, key, dot, stray] = token;
    if (stray !== undefined) throw new Error(`"${path}" is not a path of keys, [index]es and [key=value] selectors`);
    if (dot !== undefined) continue;
    if (key !== undefined) steps.push(key);
    else if (/^\d+$/.test(bracket)) steps.push(Number(bracket));
    else {
      const pairs = bracket.split(",").map((pair) => pair.split("="));
      if (pairs.some((pair) => pair.length !== 2 || pair[0] === "")) throw new Error(`"[${bracket}]" in "${path}" is neither an index nor key=value,…`);
      steps.push({ selector: pairs });
    }
  }
  if (steps.length === 0) throw new Error(`"${path}" is an empty path`);
  return steps;
}

/** How a step is written back in an error message. */
function stepText(steps) {
  return steps
    .map((step, i) =>
      typeof step === "number"
        ? `[${step}]`
        : typeof step === "object"
          ? `[${step.selector.map((pair) => pair.join("=")).join(",")}]`
          : i === 0
            ? step
            : `.${step}`,
    )
    .join("");
}

/**
 * The value at `path` inside `value`. Throws an Error naming the first step that does not exist and
 * what was there instead (the caller adds the document and the record).
 */
export function valueAtPath(value, path) {
  const steps = parseJsonPath(path);
  let current = value;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (typeof step === "object") {
      const matches = Array.isArray(current)
        ? current.filter((element) => step.selector.every(([key, value]) => element !== null && typeof element === "object" && String(element[key]) === value))
        : [];
      if (matches.length !== 1) {
        const what = Array.isArray(current)
          ? `${matches.length} of its ${current.length} elements match`
          : `it holds ${JSON.stringify(current)?.slice(0, 60)}, not an array`;
        throw new Error(`"${stepText(steps.slice(0, i + 1))}" must select one element: ${what}`);
      }
      current = matches[0];
      continue;
    }
    const found =
      typeof step === "number"
        ? Array.isArray(current) && step < current.length
        : current !== null && typeof current === "object" && !Array.isArray(current) && Object.hasOwn(current, step);
    if (!found) {
      const where = i === 0 ? "the record's top level" : `"${stepText(steps.slice(0, i))}"`;
      const has = Array.isArray(current)
        ? `an array of ${current.length}`
        : current !== null && typeof current === "object"
          ? `keys ${Object.keys(current)
              .slice(0, 12)
              .map((key) => JSON.stringify(key))
              .join(", ")}`
          : JSON.stringify(current);
      throw new Error(`no "${stepText(steps.slice(0, i + 1))}": ${where} holds ${has}`);
    }
    current = current[step];
  }
  return current;
}
