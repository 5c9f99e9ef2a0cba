/**
 * JSON text exactly as Python's `json.dumps` writes it, so that files made by Python tools
 * (Anthropic's prompt files among them) can be reproduced byte for byte.
 *
 * With default options this is `json.dumps(value)`: separators `", "` and `": "`,
 * `ensure_ascii=True` (everything outside printable ASCII as `\uXXXX`, lower-case hex, astral
 * characters as surrogate pairs), no trailing newline. `indent` gives `json.dumps(value,
 * indent=n)` (separators `","` and `": "`, one item per line).
 *
 * Numbers: JavaScript has one number type, Python two. An integral number within ±(2^53 − 1) is
 * written as a Python int (`1`, `-3`), any other number as Python's float repr (`0.5`, `1e-05`,
 * `1.5e+16`, `1e+20`); so a Python float `1.0` comes back as `1`, and a Python int above 2^53
 * (which JavaScript cannot hold exactly anyway) as a float. NaN and ±Infinity are written as
 * Python does by default (`NaN`, `Infinity`, `-Infinity`); -0 as `0`.
 *
 * Values: strings, numbers, booleans, null, arrays, plain objects and `Map`s with string keys (a
 * `Map` keeps its insertion order even for keys such as "1" that plain objects reorder).
 * `undefined` members of objects are skipped, as `JSON.stringify` does.
 */

export interface PyJsonOptions {
  /** `ensure_ascii` (default true). */
  ensureAscii?: boolean;
  /** `indent`: spaces per level; absent = everything on one line. */
  indent?: number;
}

const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x08: '\\b',
  0x0c: '\\f',
};

function hex4(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A JSON string literal as Python writes it. */
export function pyString(s: string, ensureAscii = true): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c < 0x20) out += hex4(c);
    else if (ensureAscii && c > 0x7e) out += hex4(c); // UTF-16 code units: astral characters become surrogate pairs, as in Python
    else out += s.charAt(i);
  }
  return `${out}"`;
}

/** A number as Python's json module writes an int (integral values) or a float (others). */
export function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isSafeInteger(n)) return String(n);
  // float repr: the shortest digits that round-trip; exponent form when exp < -4 or exp >= 16
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp).toString().padStart(2, '0');
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || '0'}`;
}

/** `json.dumps(value)` (or with `indent` / `ensure_ascii` as given). */
export function pyJsonDumps(value: unknown, options: PyJsonOptions = {}): string {
  const ensureAscii = options.ensureAscii ?? true;
  const indent = options.indent;
  const seen = new Set<object>();
  const write = (v: unknown, level: number): string => {
    if (v === null) return 'null';
    if (typeof v === 'string') return pyString(v, ensureAscii);
    if (typeof v === 'number') return pyNumber(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v !== 'object') throw new TypeError(`Object of type ${typeof v} is not JSON serializable`);
    if (seen.has(v)) throw new TypeError('Circular reference detected');
    seen.add(v);
    let parts: string[];
    let open: string;
    let close: string;
    if (Array.isArray(v)) {
      parts = v.map((x) => write(x === undefined ? null : x, level + 1));
      [open, close] = ['[', ']'];
    } else {
      const entries: [unknown, unknown][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
      parts = [];
      for (const [k, x] of entries) {
        if (x === undefined) continue;
        if (typeof k !== 'string') throw new TypeError('Keys must be strings');
        parts.push(`${pyString(k, ensureAscii)}: ${write(x, level + 1)}`);
      }
      [open, close] = ['{', '}'];
    }
    seen.delete(v);
    if (parts.length === 0) return open + close;
    if (indent === undefined) return `${open}${parts.join(', ')}${close}`;
    const inner = `\n${' '.repeat(indent * (level + 1))}`;
    return `${open}${inner}${parts.join(`,${inner}`)}\n${' '.repeat(indent * level)}${close}`;
  };
  return write(value, 0);
}
