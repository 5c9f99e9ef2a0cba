import type { Span } from '../../text.js';
import { entry, type LMap, type LNode } from '../ast.js';
import type { FileAnalysis } from '../validate.js';

export type OutlineKind = 'constitution' | 'section' | 'principle' | 'comparison' | 'example' | 'template' | 'option' | 'include';

export interface OutlineItem {
  name: string;
  detail?: string;
  kind: OutlineKind;
  span: Span;
  selectionSpan: Span;
  children: OutlineItem[];
}

function short(s: string | undefined, n = 60): string | undefined {
  if (!s) return undefined;
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function scalarText(map: LMap, key: string): { value: string; span: Span } | undefined {
  const v = entry(map, key)?.value;
  return v && v.kind === 'scalar' && typeof v.value === 'string' ? { value: v.value, span: v.span } : undefined;
}

/** The document outline: sections, then principles, comparisons and examples by id. */
export function outline(fa: FileAnalysis): OutlineItem[] {
  const root = fa.model.root;
  if (!root || root.kind !== 'map') return [];
  const out: OutlineItem[] = [];
  for (const e of root.entries) {
    const v: LNode | undefined = e.value;
    const span = { start: e.keySpan.start, end: Math.max(e.keySpan.end, v?.span.end ?? e.keySpan.end) };
    const section: OutlineItem = { name: e.key, kind: 'section', span, selectionSpan: e.keySpan, children: [] };
    if (e.key === 'name' && v?.kind === 'scalar') section.detail = short(String(v.value ?? ''));
    if ((e.key === 'principles' || e.key === 'comparisons') && v?.kind === 'seq') {
      const kind = e.key === 'principles' ? 'principle' : 'comparison';
      section.detail = `${v.items.length}`;
      v.items.forEach((item, i) => {
        if (item.kind !== 'map') return;
        const id = scalarText(item, 'id');
        const text = scalarText(item, kind === 'principle' ? 'critique' : 'question');
        section.children.push({
          name: id?.value || `#${i + 1}`,
          detail: short(scalarText(item, 'name')?.value ?? text?.value),
          kind,
          span: item.span,
          selectionSpan: id?.span ?? item.span,
          children: [],
        });
      });
    }
    if (e.key === 'examples' && v?.kind === 'map') {
      for (const g of v.entries) {
        const gv = g.value;
        const group: OutlineItem = {
          name: g.key,
          kind: 'section',
          span: { start: g.keySpan.start, end: Math.max(g.keySpan.end, gv?.span.end ?? g.keySpan.end) },
          selectionSpan: g.keySpan,
          children: [],
        };
        if (gv?.kind === 'seq') {
          group.detail = `${gv.items.length}`;
          gv.items.forEach((item, i) => {
            if (item.kind !== 'map') return;
            const id = scalarText(item, 'id');
            const p = scalarText(item, 'principle');
            const firstHuman = (() => {
              const c = entry(item, 'conversation')?.value;
              if (c?.kind !== 'seq') return undefined;
              const t = c.items[0];
              return t?.kind === 'map' ? scalarText(t, 'human')?.value : undefined;
            })();
            group.children.push({
              name: id?.value ?? `example ${i + 1}${p ? ` (${p.value})` : ''}`,
              detail: short(firstHuman),
              kind: 'example',
              span: item.span,
              selectionSpan: id?.span ?? p?.span ?? item.span,
              children: [],
            });
          });
        }
        section.children.push(group);
      }
    }
    if ((e.key === 'templates' || e.key === 'options') && v?.kind === 'map') {
      for (const t of v.entries) {
        section.children.push({
          name: t.key,
          detail: t.value?.kind === 'scalar' ? short(String(t.value.value ?? ''), 40) : undefined,
          kind: e.key === 'templates' ? 'template' : 'option',
          span: { start: t.keySpan.start, end: Math.max(t.keySpan.end, t.value?.span.end ?? t.keySpan.end) },
          selectionSpan: t.keySpan,
          children: [],
        });
      }
    }
    if (e.key === 'include' && v?.kind === 'seq') {
      for (const item of v.items) {
        if (item.kind === 'scalar' && typeof item.value === 'string') {
          section.children.push({ name: item.value, kind: 'include', span: item.span, selectionSpan: item.span, children: [] });
        }
      }
    }
    out.push(section);
  }
  return out;
}
