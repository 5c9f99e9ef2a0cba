/**
 * A large, realistic constitution for benchmarks: N principles with varied texts, comparisons,
 * few-shot examples that reference principles, and templates with placeholders. Deterministic.
 */
export function generateConstitution(principles: number, seed = 1): string {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const harms = ['harmful', 'unethical', 'dangerous', 'illegal', 'toxic', 'deceptive', 'biased', 'cruel', 'reckless', 'manipulative', 'invasive', 'demeaning'];
  const verbs = ['Identify', 'Point out', 'List', 'Explain', 'Describe', 'Discuss', 'Name', 'Show'];
  const objects = ['the person asking', 'third parties', 'children', 'vulnerable users', 'the public', 'the assistant itself', 'a stranger', 'a coworker'];
  const fixes = ['Rewrite', 'Revise', 'Amend', 'Rework', 'Edit'];
  const extras = ['and suggest a safer path', 'and explain the concern kindly', 'without lecturing', 'while staying helpful', 'and offer an alternative', 'in plain words'];
  const lines: string[] = [
    '# yaml-language-server: $schema=../schemas/constitution.schema.json',
    'name: benchmark',
    'version: "1.0.0"',
    `description: Generated constitution with ${principles} principles for benchmarks.`,
    'options:',
    '  revision_rounds: 4',
    '  both_orders: true',
    'templates:',
    '  critique: "{conversation}\\n\\nCritiqueRequest: {critique_request}\\n\\nCritique:"',
    '  comparison: |-',
    '    Consider the conversation below.',
    '',
    '    {conversation}',
    '',
    '    {principle}',
    '    (A) {response_a}',
    '    (B) {response_b}',
    '    The answer is:',
    'principles:',
  ];
  for (let i = 0; i < principles; i++) {
    const a = pick(harms);
    const b = pick(harms);
    lines.push(
      `  - id: principle-${i}`,
      `    critique: ${pick(verbs)} ways in which response ${i} is ${a} or ${b} toward ${pick(objects)}, case ${Math.floor(rnd() * 1e6)}.`,
      `    revision: ${pick(fixes)} response ${i} to remove ${a} content toward ${pick(objects)} ${pick(extras)}.`,
      `    weight: ${1 + Math.floor(rnd() * 3)}`,
      `    tags: [${a}, group-${i % 20}]`,
    );
    if (i % 10 === 0) lines.push(`    notes: Added in batch ${Math.floor(i / 100)}.`);
  }
  lines.push('comparisons:');
  const comparisons = Math.max(1, Math.floor(principles / 50));
  for (let i = 0; i < comparisons; i++) {
    lines.push(`  - id: compare-${i}`, `    question: Which response is less ${pick(harms)} toward ${pick(objects)}? Case ${i}.`, '    weight: 1');
  }
  lines.push('examples:', '  critique_revision:');
  for (let i = 0; i < Math.max(1, Math.floor(principles / 100)); i++) {
    lines.push(
      `    - principle: principle-${Math.floor(rnd() * principles)}`,
      '      conversation:',
      `        - human: Question ${i} about something risky.`,
      `        - assistant: A risky answer ${i}.`,
      `      critique: The answer ${i} is risky.`,
      `      revision: A careful answer ${i}.`,
    );
  }
  lines.push('  comparison:');
  for (let i = 0; i < Math.max(2, Math.floor(principles / 200)); i++) {
    lines.push(
      `    - principle: compare-${Math.floor(rnd() * comparisons)}`,
      '      conversation:',
      `        - human: Another question ${i}.`,
      `      response_a: Option one ${i}.`,
      `      response_b: Option two ${i}.`,
      `      answer: ${i % 2 ? 'A' : 'B'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
