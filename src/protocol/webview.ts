import type { PreviewConversation, PreviewPromptsResult } from './lsp.js';

/**
 * Messages between the extension host and its webview panels. Each panel has a `ready`
 * handshake: the host queues its messages until the page says it is ready.
 */

interface Msg<T extends string, P> {
  type: T;
  payload: P;
}

/** page → host, every panel: the page has loaded and listens. */
export type ReadyMessage = Msg<'ready', Record<string, never>>;

// --- Prompt preview panel -------------------------------------------------------------------

/** host → page: new content (after a selection or an edit of the constitution). */
export type PreviewUpdateMessage = Msg<'preview/update', PreviewPromptsResult>;
/** host → page: the constitution could not be read (closed, deleted, not a constitution). */
export type PreviewErrorMessage = Msg<'preview/error', { message: string }>;
/** page → host: the user picked another principle, comparison or conversation. */
export type PreviewSelectMessage = Msg<'preview/select', { principle?: string; comparison?: string; conversation?: PreviewConversation }>;
/** page → host: copy a prompt to the clipboard. */
export type PreviewCopyMessage = Msg<'preview/copy', { text: string }>;

export type PreviewHostToPage = PreviewUpdateMessage | PreviewErrorMessage;
export type PreviewPageToHost = ReadyMessage | PreviewSelectMessage | PreviewCopyMessage;

/** State the page keeps across reloads (restored by the panel serializer). */
export interface PreviewPanelState {
  uri: string;
  principle?: string;
  comparison?: string;
  conversation?: PreviewConversation;
}

export const MessageTypes = {
  ready: 'ready',
  previewUpdate: 'preview/update',
  previewError: 'preview/error',
  previewSelect: 'preview/select',
  previewCopy: 'preview/copy',
} as const;
