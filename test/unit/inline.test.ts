// Inline inspection in the editor (issue 6 §5), the pure part: what a JSONL line holds, its hint,
// its hover (rendered with marked, the renderer VS Code's hovers use, and with markdown-it, to
// check that nothing from a record becomes markup or a link), diagnostics for malformed lines,
// per-principle statistics, hostile text and a 100,000-line file.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { marked } from 'marked';
import {
  checkJsonl,
  chosen,
  classify,
  codeBlock,
  codeSpan,
  commandLink,
  formatLabelStats,
  formatRoundStats,
  hoverMarkdown,
  JsonlChecker,
  kindForFileName,
  LabelStatsAccumulator,
  lineHint,
  lineHover,
  oneLine,
  pairHint,
  parseLine,
  principleLensText,
  principleStats,
  revisionHint,
  revealInvisible,
  sniffKind,
  type LineInfo,
  type PairView,
} from '../../src/core/runs/inline.js';
import type { PairRecord, RevisionRecord } from '../../src/core/runs/records.js';
import { HOSTILE_STRINGS, HUGE_LINE } from '../webview/harness.js';

function pair(over: Partial<PairRecord> = {}): PairRecord {
  return {
    id: '16dc13deb3316b9d',
    prompt_id: '8e65302c1c3375b7',
    prompt: 'How do I pick a lock?',
    response_a: 'I cannot help with that.',
    response_b: 'If you are locked out, call a locksmith; here is why picking locks you do not own is a crime.',
    principle: 'less-harmful',
    p_a: 0.17,
    p_a_forward: 0.2,
    p_a_reversed: 0.14,
    flipped: true,
    label_method: 'exact',
    ...over,
  };
}

function revision(over: Partial<RevisionRecord> = {}): RevisionRecord {
  return {
    id: '134e5253043885ea',
    prompt_id: '8e65302c1c3375b7',
    prompt: 'How do I pick a lock?',
    initial_response: 'Sure: insert a tension wrench…',
    rounds: [
      { round: 1, principle: 'harmful-content', critique_request: 'Point out harm.', critique: 'It helps a burglary.', revision_request: 'Rewrite.', revision: 'I cannot help with that, but a locksmith can.' },
      { round: 2, principle: 'non-evasive', critique_request: 'Is it evasive?', critique: 'It does not say why.', revision_request: 'Rewrite.', revision: 'Picking locks you do not own is a crime; a locksmith can help if you are locked out.' },
    ],
    final: 'Picking locks you do not own is a crime; a locksmith can help if you are locked out.',
    ...over,
  };
}

const line = (r: unknown) => JSON.stringify(r);

/** Markup that must never appear when hostile text is rendered: tags other than the renderer's own. */
function renderedTags(html: string): string[] {
  return [...html.matchAll(/<\s*([a-zA-Z][a-zA-Z0-9-]*)/g)].map((m) => (m[1] as string).toLowerCase());
}
const ALLOWED_TAGS = new Set(['p', 'strong', 'em', 'ul', 'li', 'code', 'pre']);
/** markdown-it (a second, strict CommonMark renderer, with raw HTML and linkify on) where installed; marked is the one VS Code uses. */
const md: { render(s: string): string } = (() => {
  try {
    const MarkdownIt = createRequire(__filename)('markdown-it') as new (o: { html: boolean; linkify: boolean }) => { render(s: string): string };
    return new MarkdownIt({ html: true, linkify: true });
  } catch {
    return { render: renderMarkedLater };
  }
})();
function renderMarkedLater(s: string): string {
  return renderMarked(s);
}
const renderMarked = (s: string) => marked.parse(s, { async: false, gfm: true }) as string;

/** Markdown-specific attacks on top of the panels' hostile strings. */
const MARKDOWN_HOSTILE = [
  '```\n[run](command:workbench.action.terminal.new)\n```',
  '````` fence ``` inside `` and `',
  '`',
  '[click me](command:constitution.showPairs?%5B%22%2Ftmp%22%5D)',
  '![tracker](https://evil.example/pixel.png)',
  '<https://evil.example>',
  'visit https://evil.example/x and www.evil.example',
  '*bold* _it_ # heading\n---\n> quote\n| a | b |\n|---|---|',
  '\\`escape\\` $(zap) &amp; &lt;b&gt;',
  'line1\r\nline2\rline3\u2028line4\u0000\u0007\u001b[31mred',
  '[ref]: command:constitution.showPairs\n[ref]',
  '    indented code\n\n</code></pre><script>window.__pwned=1</script>',
];
const HOSTILE_ALL = [...HOSTILE_STRINGS, ...MARKDOWN_HOSTILE];

describe('inline: reading lines', () => {
  it('knows run files by name', () => {
    assert.equal(kindForFileName('/x/runs/r/pairs.jsonl'), 'pair');
    assert.equal(kindForFileName('C:\\runs\\r\\revisions.jsonl'), 'revision');
    assert.equal(kindForFileName('revisions.jsonl'), 'revision');
    assert.equal(kindForFileName('/x/metrics.jsonl'), undefined);
    assert.equal(kindForFileName('/x/my-pairs.jsonl'), undefined);
  });

  it('classifies pairs, revisions, other objects, blank and invalid lines', () => {
    const p = parseLine(line(pair()));
    assert.equal(p.kind, 'pair');
    if (p.kind === 'pair') {
      assert.deepEqual(p.problems, []);
      assert.equal(p.id, '16dc13deb3316b9d');
      assert.equal(p.pair.pA, 0.17);
      assert.equal(p.pair.method, 'exact');
    }
    const r = parseLine(line(revision()));
    assert.equal(r.kind, 'revision');
    if (r.kind === 'revision') {
      assert.deepEqual(r.problems, []);
      assert.equal(r.revision.rounds.length, 2);
      assert.equal(r.revision.rounds[1]?.principle, 'non-evasive');
    }
    assert.deepEqual(parseLine(line({ id: 'x', stage: 'sft', step: 1, loss: 2 })), { kind: 'other', id: 'x' });
    assert.deepEqual(parseLine('   '), { kind: 'blank' });
    assert.deepEqual(parseLine('[1,2]'), { kind: 'invalid', message: 'not a JSON object' });
    assert.deepEqual(parseLine('null'), { kind: 'invalid', message: 'not a JSON object' });
    const bad = parseLine('{"id": "a", "p_a": 0.3,, }');
    assert.equal(bad.kind, 'invalid');
    if (bad.kind === 'invalid') {
      assert.match(bad.message, /^not valid JSON/);
      assert.equal(bad.column, 23, 'the column of the JSON error');
    }
  });

  it('names wrong fields of a damaged pair and keeps what it can read', () => {
    const info = parseLine(line({ id: 'p1', response_a: 'a', response_b: 7, p_a: 1.5, p_a_forward: 'x', p_a_reversed: null, flipped: 'yes', label_method: 'guess', principle: 'fairer', prompt: 'q' }));
    assert.equal(info.kind, 'pair');
    if (info.kind !== 'pair') return;
    assert.deepEqual(info.problems, [
      'response_b is not a string',
      'p_a is not a probability',
      'p_a_forward is not a probability',
      'flipped is not true or false',
      'label_method is not one of exact, top-logprobs, sampled, cot, human',
    ]);
    assert.equal(info.pair.responseA, 'a');
    assert.equal(info.pair.pA, undefined);
    assert.equal(info.pair.pReversed, null);
    assert.equal(pairHint(info.pair), 'no label · principle fairer');
  });

  it('names wrong fields of a damaged revision', () => {
    const info = classify({ id: 'r', prompt: 'q', initial_response: 'a', rounds: [{ round: 1, principle: 'x', critique: 'c', revision: 'r' }, 'nope'], final: 3 });
    assert.equal(info.kind, 'revision');
    if (info.kind !== 'revision') return;
    assert.deepEqual(info.problems, ['final is not a string', 'no rounds[0].critique_request', 'no rounds[0].revision_request', 'rounds[1] is not an object']);
    assert.equal(revisionHint(info.revision), '2 rounds · x → ?');
  });

  it('tells pair files and revision files by their first lines', () => {
    assert.equal(sniffKind([line(pair()), '', line(pair({ id: 'b' }))]), 'pair');
    assert.equal(sniffKind([line(revision()), '{torn']), 'revision');
    assert.equal(sniffKind([line({ id: 'm', stage: 'sft', step: 1, loss: 1 }), line({ id: 'n', stage: 'sft', step: 2, loss: 1 })]), undefined);
    assert.equal(sniffKind([line({ id: 'm' }), line({ id: 'n' }), line({ id: 'o' }), line(pair())]), undefined, 'one pair among many other records is not a pair file');
    assert.equal(sniffKind([]), undefined);
    assert.equal(sniffKind(['not json', '{"also": "not"']), undefined);
  });
});

describe('inline: hints', () => {
  it('says which response was chosen, how surely, by which principle and whether the order flipped', () => {
    assert.equal(pairHint(view(pair())), 'chosen B · p = 0.83 · principle less-harmful · flipped');
    assert.equal(pairHint(view(pair({ p_a: 0.9, flipped: false }))), 'chosen A · p = 0.90 · principle less-harmful · not flipped');
    assert.equal(pairHint(view(pair({ p_a: 0.5 }))), 'tie · p = 0.50 · principle less-harmful · flipped');
    assert.equal(pairHint(view(pair({ p_a: 0.7, p_a_reversed: null, flipped: false }))), 'chosen A · p = 0.70 · principle less-harmful', 'flipped means nothing with one order');
    assert.deepEqual(chosen(0.17), { side: 'B', p: 0.83 });
    assert.deepEqual(chosen(1), { side: 'A', p: 1 });
  });

  it('sums up a revision: rounds, principles, direct and unchanged', () => {
    assert.equal(revisionHint(view(revision())), '2 rounds · harmful-content → non-evasive');
    const direct = revision({ rounds: revision().rounds.map((r) => ({ ...r, critique: '' })) });
    assert.equal(revisionHint(view(direct)), '2 rounds · direct · harmful-content → non-evasive');
    assert.equal(revisionHint(view(revision({ rounds: [], final: 'Sure: insert a tension wrench…' }))), 'no rounds');
    const same = revision({ final: 'Sure: insert a tension wrench…' });
    assert.equal(revisionHint(view(same)), '2 rounds · unchanged · harmful-content → non-evasive');
    const one = revision({ rounds: [revision().rounds[0]!] });
    assert.equal(revisionHint(view(one)), '1 round · harmful-content');
    const many = revision({ rounds: Array.from({ length: 30 }, (_, i) => ({ ...revision().rounds[0]!, round: i + 1 })) });
    const h = revisionHint(view(many));
    assert.ok(h.startsWith('30 rounds · harmful-content → '));
    assert.ok(h.length <= 120 && h.endsWith('…'), h);
  });

  it('gives no hint to blank, invalid and other lines', () => {
    for (const l of ['', '{oops', '{"id":"x","loss":1}', '3']) assert.equal(lineHint(parseLine(l)), undefined, l);
  });

  it('keeps hostile principle ids on one short visible line', () => {
    for (const s of [...HOSTILE_ALL, HUGE_LINE]) {
      const h = pairHint(view(pair({ principle: s })));
      assert.ok(h.length <= 120, `hint of ${JSON.stringify(s.slice(0, 40))} is ${h.length} characters`);
      assert.doesNotMatch(h, /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/); // eslint-disable-line no-control-regex
      const r = revisionHint(view(revision({ rounds: [{ ...revision().rounds[0]!, principle: s }] })));
      assert.ok(r.length <= 120);
      assert.doesNotMatch(r, /[\n\r\u202e\u200b]/);
    }
    assert.equal(oneLine('harmless \u202Eevil\u202C text'), 'harmless ⟨U+202E⟩evil⟨U+202C⟩ text');
    assert.equal(oneLine('a\nb\r\nc\td'), 'a ⏎ b ⏎ c d');
    assert.equal(oneLine('😀😀😀', 4), '😀…', 'never half a surrogate pair');
    assert.equal(oneLine('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
  });
});

describe('inline: hovers', () => {
  it('shows the whole pair: fields, prompt, both responses marked chosen/rejected, reasoning', () => {
    const pieces = lineHover(parseLine(line(pair({ reasoning: 'B explains why.' }))))!;
    const text = hoverMarkdown(pieces);
    const html = renderMarked(text);
    assert.match(html, /<strong>Labelled pair<\/strong> · chosen B, p = 0.83/);
    assert.match(html, /principle: <code>less-harmful<\/code>/);
    assert.match(html, /P\(A better\): <code>0.17 \(A first 0.20, A second 0.14\)<\/code>/);
    assert.match(html, /flipped: <code>yes: the preferred position changed/);
    assert.match(html, /Response A \(rejected\):<\/p>\s*<pre><code class="language-text">I cannot help with that.\n<\/code><\/pre>/);
    assert.match(html, /Response B \(chosen\):/);
    assert.match(html, /Reasoning:<\/p>\s*<pre><code class="language-text">B explains why./);
    assert.ok(html.indexOf('Prompt:') < html.indexOf('Response A') && html.indexOf('Response A') < html.indexOf('Response B'));
  });

  it('shows a revision round by round', () => {
    const html = renderMarked(hoverMarkdown(lineHover(parseLine(line(revision())))!));
    assert.match(html, /<strong>Critique → revision<\/strong> · 2 rounds/);
    for (const s of ['Initial response:', 'Round 1 principle: <code>harmful-content</code>', 'Round 1 critique:', 'It helps a burglary.', 'Round 2 revision:']) assert.ok(html.includes(s), s);
    assert.ok(!html.includes('Final:'), 'final is not repeated when it is the last revision');
    const html2 = renderMarked(hoverMarkdown(lineHover(parseLine(line(revision({ final: 'something else' }))))!));
    assert.ok(html2.includes('Final:'));
  });

  it('says what is missing or empty instead of failing', () => {
    const html = renderMarked(hoverMarkdown(lineHover(parseLine('{"p_a": 0.4, "response_a": ""}'))!));
    assert.match(html, /Prompt:<\/p>\s*<p><em>\(missing\)<\/em>/);
    assert.match(html, /Response A \(rejected\):<\/p>\s*<p><em>\(empty\)<\/em>/);
    assert.equal(lineHover(parseLine('{"loss": 1}')), undefined);
    assert.equal(lineHover(parseLine('{oops')), undefined);
  });

  it('renders hostile text in every field as literal text: no tag, no link, no image', () => {
    for (const s of HOSTILE_ALL) {
      const records: unknown[] = [
        pair({ id: s, prompt_id: s, prompt: s, response_a: s, response_b: s, principle: s, reasoning: s, label_method: s as PairRecord['label_method'] }),
        revision({ id: s, prompt_id: s, prompt: s, initial_response: s, final: s, rounds: [{ round: 1, principle: s, critique_request: s, critique: s, revision_request: s, revision: s }] }),
      ];
      for (const r of records) {
        const text = hoverMarkdown(lineHover(classify(r))!);
        for (const [name, html] of [['marked', renderMarked(text)], ['markdown-it', md.render(text)]] as const) {
          const bad = renderedTags(html).filter((t) => !ALLOWED_TAGS.has(t));
          assert.deepEqual(bad, [], `${name} made tags ${bad.join(', ')} of ${JSON.stringify(s)}`);
          // escaped text holds no '<', so every '<' is a real tag: none may carry an attribute but the code block's language
          const attrs = [...html.matchAll(/<[a-zA-Z][a-zA-Z0-9-]*([^>]*)>/g)].map((m) => (m[1] as string).trim()).filter((a) => a !== '' && a !== 'class="language-text"');
          assert.deepEqual(attrs, [], `${name} made attributes of ${JSON.stringify(s)}`);
        }
      }
    }
  });

  it('keeps every character of a hostile text visible in its block', () => {
    const s = '<img src=x onerror="window.__pwned=1"> ``` `x` \u202Eevil\u200B';
    const html = renderMarked(codeBlock(s));
    assert.ok(html.includes('&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt; ``` `x` ⟨U+202E⟩evil⟨U+200B⟩'), html);
    assert.equal(revealInvisible('a\r\nb\rc\u0000'), 'a\nb\nc⟨U+0000⟩');
  });

  it('code spans and blocks outlast any run of backticks inside', () => {
    for (const s of ['`', '``', 'a ``` b', '` x `', ' lead', 'trail ', '````````']) {
      const span = renderMarked(codeSpan(s));
      const shown = /<code>([\s\S]*)<\/code>/.exec(span)?.[1];
      assert.equal(shown?.replace(/&quot;/g, '"').replace(/&#39;/g, "'"), s, `code span of ${JSON.stringify(s)}: ${span}`);
      const block = renderMarked(codeBlock(`${s}\n${s}`));
      assert.equal(renderedTags(block).join(' '), 'pre code', block);
      assert.ok(block.includes(`${s}\n${s}`), block);
    }
    assert.equal(codeSpan(''), '*(empty)*');
  });

  it('cuts a megabyte text in a hover and says how much is left out', () => {
    const info = parseLine(line(pair({ response_b: HUGE_LINE })));
    const t0 = performance.now();
    const text = hoverMarkdown(lineHover(info)!);
    const ms = performance.now() - t0;
    assert.ok(text.length < 60_000, `hover markdown is ${text.length} characters`);
    assert.ok(text.includes(`*… ${(HUGE_LINE.length - 20_000).toLocaleString('en-US')} more characters*`));
    assert.ok(ms < 500, `hover took ${ms.toFixed(0)} ms`);
    assert.ok(pairHint(view(pair({ response_b: HUGE_LINE }))).length < 120);
  });

  it('links only to our command, with arguments nothing in them can break out of', () => {
    for (const s of [...HOSTILE_ALL, 'x)](command:evil)', "a'b(c)d*e!f~g"]) {
      const args = [`/runs/${s}/r (1)`, { pairId: s }];
      const link = commandLink('Open in Pairs panel', 'constitution.showPairs', args);
      for (const html of [renderMarked(link), md.render(link)]) {
        const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string);
        assert.equal(hrefs.length, 1, html);
        const href = (hrefs[0] as string).replace(/&amp;/g, '&');
        assert.ok(href.startsWith('command:constitution.showPairs?'), href);
        assert.deepEqual(JSON.parse(decodeURIComponent(href.slice('command:constitution.showPairs?'.length))), args);
        assert.match(html, />Open in Pairs panel<\/a>/);
      }
    }
  });
});

describe('inline: diagnostics', () => {
  it('finds nothing wrong with good files', () => {
    const pairs = [line(pair()), line(pair({ id: 'b', p_a: 0.9 })), ''].join('\n');
    assert.deepEqual(checkJsonl(pairs, 'pair'), []);
    assert.deepEqual(checkJsonl([line(revision()), line(revision({ id: 'two' }))].join('\r\n'), 'revision'), []);
  });

  it('reports each malformed line by the rules of the run format, in line order', () => {
    const text = [
      line(pair({ id: 'a' })),
      '{"id": "b", "p_a": 0.3,, }',
      '',
      line({ ...pair({ id: 'c' }), id: 3 }),
      line({ id: 'd', stage: 'sft', step: 1 }),
      line({ ...pair({ id: 'e' }), p_a: 2 }),
      line(pair({ id: 'a' })),
      '[1]',
      line(pair({ id: 'f' })),
      '{"id": "g", "prompt": "cut sho',
    ].join('\n');
    const d = checkJsonl(text, 'pair');
    assert.deepEqual(
      d.map((x) => [x.line, x.severity, x.code]),
      [
        [1, 'error', 'invalid-json'],
        [3, 'error', 'missing-id'],
        [4, 'warning', 'not-a-record'],
        [5, 'warning', 'bad-field'],
        [6, 'information', 'duplicate-id'],
        [7, 'error', 'invalid-json'],
        [9, 'warning', 'torn-line'],
      ],
    );
    assert.equal(d[0]?.column, 23);
    assert.match(d[0]!.message, /^not valid JSON \(.*\): a run reader stops at this line$/);
    assert.equal(d[2]?.message, 'not a pair record (no response_a, response_b and p_a)');
    assert.equal(d[3]?.message, 'incomplete pair record: p_a is not a probability');
    assert.match(d[4]!.message, /^id "a" is also on line 1: readers keep that first record/);
    assert.equal(d[5]?.message, 'not a JSON object: a run reader stops at this line');
    assert.match(d[6]!.message, /^torn last line, not valid JSON \(.*\): readers skip it, and the next append cuts it off$/);
  });

  it('a torn line is only the last non-blank one', () => {
    const d = checkJsonl(`${line(pair())}\n{"torn\n\n\n`, 'pair');
    assert.deepEqual(d.map((x) => x.code), ['torn-line']);
    const d2 = checkJsonl(`{"torn\n${line(pair())}\n`, 'pair');
    assert.deepEqual(d2.map((x) => x.code), ['invalid-json']);
  });

  it('checks revision files against revision records', () => {
    const d = checkJsonl([line(pair()), line(revision({ rounds: 'x' as unknown as RevisionRecord['rounds'] }))].join('\n'), 'revision');
    assert.deepEqual(d.map((x) => x.message), ['not a revision record (no initial_response and rounds)', 'incomplete revision record: rounds is not a list']);
  });

  it('stops listing after the limit and counts the rest', () => {
    const text = Array.from({ length: 50 }, () => 'garbage').join('\n') + '\n' + line(pair());
    const d = checkJsonl(text, 'pair', 10);
    assert.equal(d.length, 11);
    assert.deepEqual(d[10], { line: 10, severity: 'information', code: 'too-many', message: '40 more problems from here on not shown' });
  });

  it('never throws on hostile lines, and keeps messages to one short line', () => {
    const lines = [...HOSTILE_ALL, HUGE_LINE, `{"id": ${JSON.stringify(HUGE_LINE)}}`, '{"__proto__": {"polluted": 1}, "id": "p", "p_a": 0.5}', '{"id":"x","rounds":null}', '"str"', '1e999', '{'.repeat(10_000)];
    for (const s of HOSTILE_ALL) lines.push(line(pair({ id: s, principle: s })), line(pair({ id: s })));
    const d = checkJsonl(lines.join('\n'), 'pair');
    assert.ok(d.length > 0);
    for (const x of d) {
      assert.ok(x.message.length < 400, x.message.slice(0, 100));
      assert.doesNotMatch(x.message, /[\n\r\u202e\u200b]/);
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

describe('inline: per-principle statistics', () => {
  it('formats a comparison exactly like the issue: labels, mean confidence, flips', () => {
    // 312 labels: confidence 0.71 each (p_a 0.29 or 0.71), 28 of them flipped (9 %)
    const pairs = Array.from({ length: 312 }, (_, i) => pair({ id: `p${i}`, p_a: i % 2 ? 0.71 : 0.29, flipped: i < 28 }));
    const { labels } = principleStats(pairs);
    const s = labels.get('less-harmful')!;
    assert.equal(s.labels, 312);
    assert.equal(formatLabelStats(s), '312 labels · mean confidence 0.71 · flips 9 %');
    assert.equal(principleLensText('comparison', s, undefined), '312 labels · mean confidence 0.71 · flips 9 %');
  });

  it('counts each id once, skips records without a label, and flips only over labels asked in both orders', () => {
    const acc = new LabelStatsAccumulator();
    acc.add(pair({ id: 'a', principle: 'fairer', p_a: 0.9, flipped: true }));
    acc.add(pair({ id: 'a', principle: 'fairer', p_a: 0.1, flipped: false })); // a later copy: ignored
    acc.add(pair({ id: 'b', principle: 'fairer', p_a: 0.4, p_a_reversed: null, flipped: false }));
    acc.add({ ...pair({ id: 'c', principle: 'fairer' }), p_a: 'high' });
    acc.add({ ...pair({ id: 'd' }), principle: 7 });
    acc.add(null);
    acc.add('x');
    const s = acc.get('fairer')!;
    assert.deepEqual(s, { labels: 2, confidenceSum: 0.9 + 0.6, bothOrders: 1, flips: 1 });
    assert.equal(formatLabelStats(s), '2 labels · mean confidence 0.75 · flips 100 %');
    assert.equal(acc.records, 2);
    assert.equal(formatLabelStats({ labels: 1, confidenceSum: 0.5, bothOrders: 0, flips: 0 }), '1 label · mean confidence 0.50', 'no flips part when no label had both orders');
  });

  it('counts critique principles from revision rounds: rounds, prompts and direct ones', () => {
    const { rounds } = principleStats([], [
      revision({ id: 'r1' }),
      revision({ id: 'r2', rounds: [{ ...revision().rounds[0]!, critique: '' }, { ...revision().rounds[0]!, round: 2 }] }),
      revision({ id: 'r1' }),
      { id: 'r3', rounds: [null, { principle: 5 }, 'x'] },
    ]);
    assert.deepEqual(rounds.get('harmful-content'), { rounds: 3, prompts: 2, direct: 1 });
    assert.deepEqual(rounds.get('non-evasive'), { rounds: 1, prompts: 1, direct: 0 });
    assert.equal(formatRoundStats(rounds.get('harmful-content')!), '3 critique rounds · 2 prompts · 1 direct');
    assert.equal(formatRoundStats(rounds.get('non-evasive')!), '1 critique round · 1 prompt');
    assert.equal(formatRoundStats({ rounds: 2, prompts: 2, direct: 2 }), '2 critique rounds · 2 prompts · all direct');
    assert.equal(principleLensText('principle', undefined, rounds.get('non-evasive')), '1 critique round · 1 prompt');
    assert.equal(principleLensText('principle', undefined, undefined), 'no critique rounds in the latest run');
    assert.equal(principleLensText('comparison', undefined, undefined), 'no labels in the latest run');
  });

  it('formats large counts with separators', () => {
    assert.equal(formatLabelStats({ labels: 100_000, confidenceSum: 71_234, bothOrders: 100_000, flips: 9_000 }), '100,000 labels · mean confidence 0.71 · flips 9 %');
  });
});

describe('inline: a 100,000-line file', () => {
  it('is checked, counted and hinted in reasonable time', () => {
    const principles = ['less-harmful', 'fairer', 'more-caring', 'safer-advice'];
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      lines.push(line(pair({ id: `id-${i}`, prompt_id: `p-${i % 500}`, principle: principles[i % 4]!, p_a: (i % 100) / 100, flipped: i % 10 === 0 })));
    }
    lines[50_000] = '{"id": "broken", ';
    const text = lines.join('\n');

    let t0 = performance.now();
    const checker = new JsonlChecker('pair');
    for (let i = 0; i < lines.length; i++) checker.add(lines[i]!, i);
    const diags = checker.finish();
    const checkMs = performance.now() - t0;
    assert.deepEqual(diags.map((d) => [d.line, d.code]), [[50_000, 'invalid-json']]);

    t0 = performance.now();
    const labels = new LabelStatsAccumulator();
    for (const l of lines) {
      try {
        labels.add(JSON.parse(l));
      } catch {
        // the broken line: scanJsonl reports it; the statistics skip it
      }
    }
    const statsMs = performance.now() - t0;
    assert.equal(labels.records, 99_999);
    assert.equal(labels.get('fairer')?.labels, 25_000);

    // What the editor asks for: hints for the visible lines only.
    t0 = performance.now();
    const visible = lines.slice(70_000, 70_100).map((l) => lineHint(parseLine(l)));
    const hintMs = performance.now() - t0;
    assert.equal(visible[0], 'chosen B · p = 1.00 · principle less-harmful · flipped');
    assert.equal(visible.filter((h) => h !== undefined).length, 100);

    console.log(`100k lines (${(text.length / 1e6).toFixed(1)} MB): check ${checkMs.toFixed(0)} ms, statistics ${statsMs.toFixed(0)} ms, 100 visible hints ${hintMs.toFixed(1)} ms`);
    assert.ok(checkMs < 30_000, `checking took ${checkMs} ms`); // 0.2–2 s measured, depending on load
    assert.ok(hintMs < 200, `hints took ${hintMs} ms`);
  });
});

function view(r: PairRecord): PairView;
function view(r: RevisionRecord): Extract<LineInfo, { kind: 'revision' }>['revision'];
function view(r: PairRecord | RevisionRecord): unknown {
  const info = classify(r);
  if (info.kind === 'pair') return info.pair;
  if (info.kind === 'revision') return info.revision;
  throw new Error(`not a record: ${info.kind}`);
}
