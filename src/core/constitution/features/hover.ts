import type { Span } from '../../text.js';
import type { Definition } from '../model.js';
import type { ConstitutionWorkspace, Resolution } from '../resolve.js';
import { specTypeName } from '../schema.js';
import { isPlaceholderName, PLACEHOLDERS, TEMPLATES } from '../templates.js';
import type { FileAnalysis } from '../validate.js';
import { occurrenceAt, targetDefinition } from './navigation.js';

export interface Hover {
  markdown: string;
  span: Span;
}

/** Escapes text so that Markdown shows it as written (constitution text is not Markdown). */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`).replace(/\n/g, '  \n');
}

function clip(s: string, n = 600): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function line(ws: { display(f: string): string }, fa: FileAnalysis | undefined, file: string, span: Span): string {
  return `${ws.display(file)}:${fa ? fa.index.positionAt(span.start).line + 1 : '?'}`;
}

function describeDefinition(res: Resolution, display: { display(f: string): string }, d: Definition): string {
  const fa = res.files.get(d.file);
  const c = res.constitution;
  const parts: string[] = [];
  if (d.kind === 'principle') {
    const p = fa?.model.principles[d.index];
    parts.push(`**principle** \`${d.id}\`${p?.name ? ` — ${escapeMarkdown(p.name.value)}` : ''}`);
    if (p?.critique) parts.push(`**Critique request:** ${escapeMarkdown(clip(p.critique.value))}`);
    if (p?.revision) parts.push(`**Revision request:** ${escapeMarkdown(clip(p.revision.value))}`);
    if (p) parts.push(weightLine(p.weight, c.principles.reduce((s, x) => s + x.weight, 0), p.tags.map((t) => t.value)));
    if (p?.notes) parts.push(`*${escapeMarkdown(clip(p.notes.value, 300))}*`);
  } else if (d.kind === 'comparison') {
    const q = fa?.model.comparisons[d.index];
    parts.push(`**comparison principle** \`${d.id}\`${q?.name ? ` — ${escapeMarkdown(q.name.value)}` : ''}`);
    if (q?.question) parts.push(`**Question:** ${escapeMarkdown(clip(q.question.value))}`);
    if (q) parts.push(weightLine(q.weight, c.comparisons.reduce((s, x) => s + x.weight, 0), q.tags.map((t) => t.value)));
    if (q?.notes) parts.push(`*${escapeMarkdown(clip(q.notes.value, 300))}*`);
  } else {
    parts.push(`**example** \`${d.id}\``);
  }
  if (res.excluded.has(d.id)) parts.push('Left out here by `exclude`.');
  const refs = res.references.filter((r) => r.id === d.id && r.field === 'principle');
  const usedBy = refs.map((r) => `${escapeMarkdown(r.holder)} (${line(display, res.files.get(r.file), r.file, r.span)})`);
  parts.push(`Defined at ${escapeMarkdown(line(display, fa, d.file, d.span))}.${usedBy.length ? ` Used by ${usedBy.length} example${usedBy.length === 1 ? '' : 's'}: ${usedBy.slice(0, 8).join(', ')}${usedBy.length > 8 ? ', …' : ''}.` : ' No example uses it.'}`);
  return parts.join('\n\n');
}

function weightLine(weight: number, total: number, tags: string[]): string {
  const share = total > 0 ? ` (${((100 * weight) / total).toFixed(1)}% of draws)` : '';
  return `weight ${weight}${share}${tags.length ? ` · tags: ${tags.map((t) => `\`${t}\``).join(', ')}` : ''}`;
}

export function hover(ws: ConstitutionWorkspace, res: Resolution, fa: FileAnalysis, offset: number): Hover | undefined {
  const display = ws;
  const occ = occurrenceAt(fa, offset);
  if (!occ) return undefined;
  switch (occ.kind) {
    case 'definition':
    case 'reference': {
      const d = targetDefinition(res, occ);
      if (!d) return { markdown: `Unknown id \`${occ.id}\`.`, span: occ.span };
      return { markdown: describeDefinition(res, display, d), span: occ.span };
    }
    case 'include': {
      const target = ws.resolvePath(fa.file, occ.path);
      const fa2 = res.files.get(target) ?? ws.file(target);
      if (!fa2) return { markdown: `Included file ${escapeMarkdown(display.display(target))} was not found.`, span: occ.span };
      const m = fa2.model;
      return {
        markdown: [
          `**include** ${escapeMarkdown(display.display(fa2.file))}`,
          m.name ? `**${escapeMarkdown(m.name.value)}**${m.version ? ` ${escapeMarkdown(m.version.value)}` : ''}` : '',
          m.description ? escapeMarkdown(clip(m.description.value, 300)) : '',
          `${m.principles.length} principles, ${m.comparisons.length} comparisons, ${m.examples.critique_revision.length + m.examples.comparison.length + m.examples.cot_comparison.length} examples.`,
        ]
          .filter(Boolean)
          .join('\n\n'),
        span: occ.span,
      };
    }
    case 'placeholder': {
      const t = TEMPLATES[occ.template];
      const allowed = (t.allowed as readonly string[]).includes(occ.name);
      const doc = isPlaceholderName(occ.name) ? PLACEHOLDERS[occ.name] : undefined;
      return {
        markdown: `**{${escapeMarkdown(occ.name)}}**${doc ? ` — ${doc}` : ' — unknown placeholder'}${doc && !allowed ? `\n\nNot available in \`${occ.template}\`.` : ''}`,
        span: occ.span,
      };
    }
    case 'key': {
      const s = occ.field.spec;
      const dflt = 'default' in s && s.default !== undefined ? ` · default \`${JSON.stringify(s.default)}\`` : '';
      let extra = '';
      if (s.type === 'string' && s.template) extra = `\n\nBuilt-in default:\n\n\`\`\`text\n${TEMPLATES[s.template].default}\n\`\`\``;
      return {
        markdown: `**${occ.path.filter((p) => p !== '*').join('.')}** — ${specTypeName(s)}${occ.field.required ? ' · required' : ''}${dflt}\n\n${s.doc}${extra}`,
        span: occ.span,
      };
    }
  }
}
