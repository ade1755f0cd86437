// A record's value at a path such as `arms[0].evaluation.accuracy[3].mean` or
// `runs.maml+agreement seed-0.training.early.effectiveTasks` (keys may hold spaces and `+`, not `.`).

/** The path's steps: object keys (strings) and array indices (numbers). `a.b[3].c` → ["a", "b", 3, "c"]. */
export function parseJsonPath(path) {
  const steps = [];
  for (const part of path.split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!match || (match[1] === "" && match[2] === "")) throw new Error(`"${path}" is not a path of keys and [index]es`);
    if (match[1] !== "") steps.push(match[1]);
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) steps.push(Number(index[1]));
  }
  return steps;
}

/** How a step is written back in an error message. */
function stepText(steps) {
  return steps.map((step, i) => (typeof step === "number" ? `[${step}]` : i === 0 ? step : `.${step}`)).join("");
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
    const found =
      typeof step === "number"
        ? Array.isArray(current) && step < current.length
        : current !== null && typeof current === "object" && !Array.isArray(current) && Object.hasOwn(current, step);
    if (!found) {
      const where = i === 0 ? "the record's top level" : `"${stepText(steps.slice(0, i))}"`;
      const has = Array.isArray(current)
        ? `an array of ${current.length}`
        : current !== null && typeof current === "object"
          ? `keys ${Object.keys(current).slice(0, 12).map((key) => JSON.stringify(key)).join(", ")}`
          : JSON.stringify(current);
      throw new Error(`no "${stepText(steps.slice(0, i + 1))}": ${where} holds ${has}`);
    }
    current = current[step];
  }
  return current;
}
