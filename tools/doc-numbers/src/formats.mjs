// How a marker's value is written: `KIND [FLAG …]` after the marker's "|".
//
//   KIND   fixedN  N decimals                       0.1243 → fixed4 → 0.1243
//          pctN    ×100, N decimals                 0.96867 → pct2 → 96.87
//          int     rounded, thousands spaced        1314.6 → int → 1 315
//          sigN    N significant digits             0.0004123 → sig2 → 0.00041
//   FLAG   ci      {mean, ci95} → "mean ± ci95"     → 96.87 ± 0.66
//          signed  "+" before a positive value      → +1.07
//          range   a list → "min–max" (one value when both round alike)
// Negative values take the minus sign U+2212 (−), as the documents do.

const MINUS = "\u2212";

/** Parses a format spec. Throws an Error naming what is unknown. */
export function parseFormat(spec) {
  const [kind, ...flags] = spec.trim().split(/\s+/);
  const match = /^(fixed|pct|sig)(\d+)$|^(int)$/.exec(kind ?? "");
  if (!match) throw new Error(`unknown format "${kind}" (expected fixedN, pctN, sigN or int)`);
  for (const flag of flags) if (!["ci", "signed", "range"].includes(flag)) throw new Error(`unknown format flag "${flag}" (expected ci, signed or range)`);
  if (flags.includes("ci") && flags.includes("range")) throw new Error('a format takes "ci" or "range", not both');
  return { kind: match[1] ?? match[3], digits: match[2] === undefined ? 0 : Number(match[2]), signed: flags.includes("signed"), ci: flags.includes("ci"), range: flags.includes("range") };
}

/** `value` written as `format` says; throws an Error when the value has the wrong shape for it. */
export function formatValue(value, format) {
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
  let text;
  if (format.kind === "int") text = groupThousands(Math.round(scaled));
  else if (format.kind === "sig") text = significant(scaled, format.digits);
  else text = scaled.toFixed(format.digits);
  const isZero = Number(text.replaceAll(" ", "")) === 0;
  if (isZero) return text.replace(/^-/, "");
  if (text.startsWith("-")) return `${MINUS}${text.slice(1)}`;
  return format.signed ? `+${text}` : text;
}

function groupThousands(n) {
  const digits = String(Math.abs(n));
  if (digits.length < 4) return String(n);
  return `${n < 0 ? "-" : ""}${digits.replace(/\B(?=(\d{3})+$)/g, " ")}`;
}

function significant(x, digits) {
  if (x === 0) return (0).toFixed(Math.max(0, digits - 1));
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(Number(x.toPrecision(digits))))));
  return x.toFixed(decimals);
}
