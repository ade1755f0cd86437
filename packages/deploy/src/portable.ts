// A path is "machine-local" when it only means something on the machine that wrote it: an absolute
// POSIX or Windows path, a UNC share, a home-relative path or a file: URL. A token starts at the
// beginning of the text or after whitespace, a quote, "=", "(", ",", ";", "[", "{" or "<", so prose
// such as "value / max" and URLs such as https://host/path do not count.
const TOKEN_START = String.raw`(?:^|[\s"'=(,;\[{<])`;
const MACHINE_LOCAL = new RegExp(
  [
    String.raw`${TOKEN_START}/(?![\s/])`, // /home/…, /tmp
    String.raw`${TOKEN_START}[A-Za-z]:[\\/]`, // C:\…, d:/…
    String.raw`${TOKEN_START}\\\\[^\\\s]`, // \\server\share
    String.raw`${TOKEN_START}~[\w.-]*[\\/]`, // ~/…, ~alice/…
    `${TOKEN_START}file:`, // file:///…
  ].join("|"),
  "i",
);

/** Whether `text` contains a machine-local path (see above). */
export function machineLocalPath(text: string): boolean {
  return MACHINE_LOCAL.test(text);
}

/**
 * The field (e.g. `spec.training.config.tasks.dataDir`) of the first key or string value in a JSON
 * value that holds a machine-local path, or undefined when there is none.
 */
export function findMachineLocalPath(value: unknown, field: string): string | undefined {
  if (typeof value === "string") return machineLocalPath(value) ? field : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findMachineLocalPath(value[i], `${field}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (machineLocalPath(key)) return `${field}[${JSON.stringify(key)}]`;
      const found = findMachineLocalPath(item, `${field}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}
