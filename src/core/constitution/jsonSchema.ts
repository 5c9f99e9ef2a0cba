import { constitutionSpec, ID_PATTERN_TEXT, TAG_PATTERN_TEXT, type Spec } from './schema.js';
import { TEMPLATES } from './templates.js';

/**
 * The JSON Schema (draft 2020-12) of the constitution format, generated from schema.ts.
 * schemas/constitution.schema.json is this function's output (`npm run gen:schema`; a test
 * checks that the shipped file is current).
 */
export function constitutionJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://constitution-studio.dev/schemas/constitution.schema.json',
    title: 'Constitution',
    ...convert(constitutionSpec),
  };
}

function convert(spec: Spec): Record<string, unknown> {
  switch (spec.type) {
    case 'object': {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [k, f] of Object.entries(spec.fields)) {
        properties[k] = convert(f.spec);
        if (f.required) required.push(k);
      }
      const out: Record<string, unknown> = {
        type: 'object',
        description: spec.doc,
        properties,
        patternProperties: { '^x-': { description: 'Tool-specific data, kept verbatim.' } },
        additionalProperties: false,
      };
      if (required.length) out.required = required;
      if (spec.exactlyOne) {
        out.oneOf = spec.exactlyOne.map((k) => ({ required: [k] }));
        out.minProperties = 1;
      }
      return out;
    }
    case 'array': {
      const out: Record<string, unknown> = { type: 'array', description: spec.doc, items: convert(spec.items) };
      if (spec.minItems !== undefined) out.minItems = spec.minItems;
      if (spec.maxItems !== undefined) out.maxItems = spec.maxItems;
      return out;
    }
    case 'string': {
      const out: Record<string, unknown> = { type: 'string', description: spec.doc };
      if (spec.enum) out.enum = [...spec.enum];
      if (spec.role === 'id' || spec.role === 'ref') out.pattern = ID_PATTERN_TEXT;
      if (spec.role === 'tag') out.pattern = TAG_PATTERN_TEXT;
      if (spec.role === 'text' && !spec.enum) out.pattern = '\\S';
      if (spec.role === 'template' && spec.template) out.default = TEMPLATES[spec.template].default;
      return out;
    }
    case 'number':
      return numberSchema(spec);
    case 'boolean':
      return booleanSchema(spec);
  }
}

/** JSON Schema of a number field (shared by the constitution and run-config schemas). */
export function numberSchema(spec: { doc: string; integer?: boolean; minimum?: number; exclusiveMinimum?: number; maximum?: number; default?: number }): Record<string, unknown> {
  const out: Record<string, unknown> = { type: spec.integer ? 'integer' : 'number', description: spec.doc };
  if (spec.minimum !== undefined) out.minimum = spec.minimum;
  if (spec.exclusiveMinimum !== undefined) out.exclusiveMinimum = spec.exclusiveMinimum;
  if (spec.maximum !== undefined) out.maximum = spec.maximum;
  if (spec.default !== undefined) out.default = spec.default;
  return out;
}

/** JSON Schema of a boolean field. */
export function booleanSchema(spec: { doc: string; default?: boolean }): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'boolean', description: spec.doc };
  if (spec.default !== undefined) out.default = spec.default;
  return out;
}
