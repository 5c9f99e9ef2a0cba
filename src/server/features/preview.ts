import type { ConstitutionData } from '../../core/constitution/data.js';
import { previewPrompts, SAMPLE_CONVERSATION } from '../../core/constitution/render.js';
import type { Resolution } from '../../core/constitution/resolve.js';
import type { PreviewConversation, PreviewPromptsParams, PreviewPromptsResult } from '../../protocol/lsp.js';

/** The answer to `constitution/previewPrompts` for a resolved constitution. */
export function previewResult(res: Resolution, p: PreviewPromptsParams): PreviewPromptsResult {
  return previewFor(res.constitution, res.diagnostics.filter((d) => d.severity === 'error').length, p);
}

/** The same for constitution data and its error count. */
export function previewFor(c: ConstitutionData, errorCount: number, p: PreviewPromptsParams): PreviewPromptsResult {
  const principle = p.principle && c.principles.some((x) => x.id === p.principle) ? p.principle : c.principles[0]?.id;
  const comparison = p.comparison && c.comparisons.some((x) => x.id === p.comparison) ? p.comparison : c.comparisons[0]?.id;
  const wanted = p.conversation ?? { kind: 'sample' as const };
  const sample = sampleFor(c, wanted);
  const conversation: PreviewConversation = sample ? wanted : { kind: 'sample' };
  return {
    uri: p.uri,
    name: c.name,
    principles: c.principles.map((x) => ({ id: x.id, label: x.id, detail: x.name ?? x.critique.slice(0, 80) })),
    comparisons: c.comparisons.map((x) => ({ id: x.id, label: x.id, detail: x.name ?? x.question.slice(0, 80) })),
    conversations: conversationChoices(c),
    selected: { principle, comparison, conversation },
    preview: previewPrompts(c, { principle, comparison }, sample ?? SAMPLE_CONVERSATION),
    errorCount,
  };
}

export function conversationChoices(c: ConstitutionData): { label: string; value: PreviewConversation }[] {
  const out: { label: string; value: PreviewConversation }[] = [{ label: 'Built-in sample conversation', value: { kind: 'sample' } }];
  const label = (turns: { text: string }[]) => {
    const t = turns[0]?.text ?? '';
    return t.length > 60 ? `${t.slice(0, 59)}…` : t;
  };
  c.examples.critique_revision.forEach((e, i) => out.push({ label: `Critique/revision example ${i + 1}: ${label(e.conversation)}`, value: { kind: 'example', group: 'critique_revision', index: i } }));
  c.examples.comparison.forEach((e, i) => out.push({ label: `Comparison example ${i + 1}: ${label(e.conversation)}`, value: { kind: 'example', group: 'comparison', index: i } }));
  c.examples.cot_comparison.forEach((e, i) => out.push({ label: `Chain-of-thought example ${i + 1}: ${label(e.conversation)}`, value: { kind: 'example', group: 'cot_comparison', index: i } }));
  return out;
}

function sampleFor(c: ConstitutionData, conv: PreviewConversation): typeof SAMPLE_CONVERSATION | undefined {
  if (conv.kind === 'sample') return SAMPLE_CONVERSATION;
  if (conv.group === 'critique_revision') {
    const e = c.examples.critique_revision[conv.index];
    if (!e) return undefined;
    return { turns: e.conversation, response_a: e.conversation[e.conversation.length - 1]?.text ?? '', response_b: e.revision };
  }
  const e = (conv.group === 'comparison' ? c.examples.comparison : c.examples.cot_comparison)[conv.index];
  if (!e) return undefined;
  return { turns: [...e.conversation, { role: 'assistant', text: e.response_a }], response_a: e.response_a, response_b: e.response_b };
}
