// How a marker's value is written: `KIND [FLAG …]` after the marker's "|".
//
//   KIND   fixedN  N decimals                       0.1243 → fixed4 → 0.1243
//          pctN    ×100, N decimals                 0.96867 → pct2 → 96.87
//          int     rounded, thousands spaced        1314.6 → int → 1 315
//          sigN    N significant digits             0.0004123 → sig2 → 0.00041, 1817.5 → sig3 → 1 820
//          text    a string of the record as it is  "18001–20000"
//   FLAG   ci      {mean, ci95} → "mean ± ci95"     → 96.87 ± 0.66
//          signed  "+" before a positive value      → +1.07
//          range   a list → "min–max" (one value when both round alike)
// Negative values take the minus sign U+2212 (−), and integer parts of 4 digits or more are spaced
// by thousands (1 315), as the documents write them.

const MINUS = "\u2212";

/** Parses a format spec. Throws an Error naming what is unknown. */
export function parseFormat(spec) {
  const [kind, ...flags] = spec.trim().split(/\s+/);
  const match = /^(fixed|pct|sig)(\d+)$|^(int|text)$/.exec(kind ?? "");
  if (!match) throw new Error(`unknown format "${kind}" (expected fixedN, pctN, sigN, int or text)`);
  for (const flag of flags) if (!["ci", "signed", "range"].includes(flag)) throw new Error(`unknown format flag "${flag}" (expected ci, signed or range)`);
  if (flags.includes("ci") && flags.includes("range")) throw new Error('a format takes "ci" or "range", not both');
  if (kind === "text" && flags.length > 0) throw new Error('the "text" format takes no flags');
  return {
    kind: match[1] ?? match[3],
    digits: match[2] === undefined ? 0 : Number(match[2]),
    signed: flags.includes("signed"),
    ci: flags.includes("ci"),
    range: flags.includes("range"),
  };
}

/** `value` written as `format` says; throws an Error when the value has the wrong shape for it. */
export function formatValue(value, format) {
  if (format.kind === "text") {
    if (typeof value !== "string") throw new Error(`format "text" expects a string, got ${JSON.stringify(value)?.slice(0, 80)}`);
    return value;
  }
  if (format.ci) {
    if (value === null || typeof value !== "object" || typeof value.mean !== "number" || typeof value.ci95 !== "number") {
      throw new Error(`format "ci" expects an object with numbers mean and ci95, got ${JSON.stringify(value)?.slice(0, 80)}`);
    }
    return `${formatNumber(value.mean, format)} ± ${formatNumber(value.ci95, { ...format, signed: false })}`;
  }
  if (format.range) {
    const values = Array.isArray(value) ? value.flat() : [value];
    for (const x of values) single(x, "range");
    const low = formatNumber(Math.min(...values), format);
    const high = formatNumber(Math.max(...values), format);
    return low === high ? low : `${low}–${high}`;
  }
  if (Array.isArray(value)) throw new Error(`expected one number, got a list of ${value.length} (use mean(), min(), max() or the range format)`);
  return formatNumber(single(value, format.kind), format);
}

function single(value, what) {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`${what} expects a finite number, got ${JSON.stringify(value)?.slice(0, 80)}`);
  return value;
}

/** One number: scaled, rounded, signed, with U+2212 for a minus and no sign on a value that rounds to 0. */
export function formatNumber(x, format) {
  const scaled = format.kind === "pct" ? x * 100 : x;
  const rounded =
    format.kind === "int" ? Math.round(scaled).toFixed(0) : format.kind === "sig" ? significant(scaled, format.digits) : scaled.toFixed(format.digits);
  const text = groupThousands(rounded);
  if (Number(rounded) === 0) return text.replace(/^-/, "");
  if (text.startsWith("-")) return `${MINUS}${text.slice(1)}`;
  return format.signed ? `+${text}` : text;
}

/** "-1314.56" → "-1 314.56": the integer part spaced by thousands from 4 digits on. */
function groupThousands(text) {
  const [, sign, integer, fraction] = /^(-?)(\d+)(.*)$/.exec(text);
  return `${sign}${integer.length < 4 ? integer : integer.replace(/\B(?=(\d{3})+$)/g, " ")}${fraction}`;
}

function significant(x, digits) {
  if (x === 0) return (0).toFixed(Math.max(0, digits - 1));
  const rounded = Number(x.toPrecision(digits));
  return rounded.toFixed(Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(rounded)))));
}
