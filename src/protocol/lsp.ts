import { RequestType } from 'vscode-jsonrpc';
import type { PromptPreview } from '../core/constitution/render.js';

/**
 * Requests beyond standard LSP, between the extension (client) and the language server.
 * Any LSP client can send them; `cai lsp --stdio` answers them too.
 */

/** Which conversation a preview renders: the built-in sample, or the conversation of a few-shot example. */
export type PreviewConversation = { kind: 'sample' } | { kind: 'example'; group: 'critique_revision' | 'comparison' | 'cot_comparison'; index: number };

export interface PreviewPromptsParams {
  uri: string;
  /** Principle to render critique/revision prompts for; the first one when absent. */
  principle?: string;
  /** Comparison principle to render the AI-feedback question for; the first one when absent. */
  comparison?: string;
  conversation?: PreviewConversation;
}

export interface PreviewChoice {
  id: string;
  label: string;
  detail?: string;
}

export interface PreviewPromptsResult {
  uri: string;
  name: string;
  principles: PreviewChoice[];
  comparisons: PreviewChoice[];
  conversations: { label: string; value: PreviewConversation }[];
  selected: { principle?: string; comparison?: string; conversation: PreviewConversation };
  preview: PromptPreview;
  /** Errors in the constitution (the preview renders what is valid). */
  errorCount: number;
}

/** client → server: the exact prompts for a principle/comparison and a conversation. */
export const PreviewPromptsRequest = new RequestType<PreviewPromptsParams, PreviewPromptsResult | null, void>('constitution/previewPrompts');
