/**
 * Markdown tables padded to line up, so the same text reads well in a terminal and renders
 * in RESULTS.md.
 */

/**
 * @param {string[]} headers
 * @param {string[][]} rows
 * @param {Array<'l' | 'r'>} [align] per column; defaults to left for the first, right for the rest
 */
export function renderTable(headers, rows, align) {
  const al = align ?? headers.map((_, i) => (i === 0 ? 'l' : 'r'));
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3),
  );
  /** @param {string} s @param {number} i */
  const pad = (s, i) => (al[i] === 'r' ? s.padStart(widths[i]) : s.padEnd(widths[i]));
  const line = (/** @type {string[]} */ cells) =>
    `| ${cells.map((c, i) => pad(c ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (al[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/**
 * A number with a sensible number of digits and thousands separators.
 * @param {number | undefined} x
 * @param {number} [digits] fraction digits; by default fewer as the number grows
 */
export function fmt(x, digits) {
  if (x === undefined || !Number.isFinite(x)) return 'n/a';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/**
 * `a / b` as a ratio cell, e.g. "3.12x".
 * @param {number | undefined} a
 * @param {number | undefined} b
 */
export function ratio(a, b) {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return 'n/a';
  }
  return `${(a / b).toFixed(2)}x`;
}
