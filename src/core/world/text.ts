// Small text helpers of the built-in world: slot filling, the assistant's voice, gerunds and the
// tokeniser the oracle counts words with.

/** Replaces every `{name}` with `values[name]`; unknown names stay as they are. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (m, k: string) => values[k] ?? m);
}

export function capitalize(s: string): string {
  return s.length ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** The asker's words in the assistant's voice: "my ex" → "your ex". */
export function toSecondPerson(s: string): string {
  return s
    .replace(/\bmyself\b/g, 'yourself')
    .replace(/\bmy\b/g, 'your')
    .replace(/\bMy\b/g, 'Your')
    .replace(/\bme\b/g, 'you')
    .replace(/\bI'm\b/g, "you're")
    .replace(/\bI\b/g, 'you');
}

const DOUBLING = new Set(['get', 'put', 'set', 'cut', 'stop', 'plan', 'chop', 'shop', 'jog', 'dig', 'hit', 'run', 'swap', 'grab', 'drop', 'skip', 'slip', 'sit', 'spin', 'tap', 'trim', 'wrap', 'ship', 'step', 'plug', 'rub', 'beg', 'log', 'chat', 'pin', 'dip', 'let', 'mop', 'scrub', 'stir', 'prep', 'jot', 'spot', 'whip', 'debug', 'travel', 'drug', 'knit']);
const IRREGULAR: Record<string, string> = { lie: 'lying', die: 'dying', tie: 'tying', be: 'being', see: 'seeing', agree: 'agreeing', free: 'freeing' };

export function gerundOf(verb: string): string {
  const v = verb.toLowerCase();
  if (IRREGULAR[v]) return IRREGULAR[v];
  if (DOUBLING.has(v)) return `${v}${v[v.length - 1]}ing`;
  if (v.endsWith('ie')) return `${v.slice(0, -2)}ying`;
  if (v.endsWith('e') && !/(ee|ye|oe)$/.test(v) && v.length > 2) return `${v.slice(0, -1)}ing`;
  return `${v}ing`;
}

/** "guess the answers" → "guessing the answers". */
export function gerundPhrase(phrase: string): string {
  const i = phrase.indexOf(' ');
  return i < 0 ? gerundOf(phrase) : gerundOf(phrase.slice(0, i)) + phrase.slice(i);
}

/** Lower-case words; "neighbour's" counts as "neighbour", "can't" stays one word. */
export function words(text: string): string[] {
  const out: string[] = [];
  const re = /[a-z0-9]+(?:'[a-z]+)?/g;
  const t = text.toLowerCase().replace(/[\u2018\u2019]/g, "'");
  for (let m = re.exec(t); m; m = re.exec(t)) {
    let w = m[0];
    if (w.endsWith("'s")) w = w.slice(0, -2);
    out.push(w);
  }
  return out;
}

/** FNV-1a, as 8 hex digits: stable ids for generated records. */
export function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
