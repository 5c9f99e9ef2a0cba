/**
 * The page side of the host connection, shared by every panel: acquires the webview API once,
 * posts typed messages, keeps the page's state for the panel serializer, and hands the host's
 * messages (after a shape check) to the panel. Each panel wraps this in its own small typed
 * façade (e.g. `host.openPair(id)`); UI code never calls postMessage itself.
 */
import { MessageTypes } from '../../src/protocol/webview.js';

interface VsCodeApi<State> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): State;
}

declare function acquireVsCodeApi<State>(): VsCodeApi<State>;

export interface HostConnection<ToHost extends { type: string }, State> {
  post(message: ToHost): void;
  getState(): State | undefined;
  setState(state: State): void;
  /** Says `ready` (once the page listens); the host then sends what it queued. */
  ready(): void;
}

/**
 * Connects the page. `onMessage` receives only objects with a string `type` that start with one
 * of `prefixes` (e.g. `pairs/`); anything else posted to the window is ignored.
 */
export function connect<ToPage extends { type: string }, ToHost extends { type: string }, State>(prefixes: readonly string[], onMessage: (m: ToPage) => void): HostConnection<ToHost, State> {
  const api = acquireVsCodeApi<State>();
  window.addEventListener('message', (e: MessageEvent<unknown>) => {
    const m = e.data;
    if (typeof m !== 'object' || m === null) return;
    const type = (m as { type?: unknown }).type;
    if (typeof type !== 'string' || !prefixes.some((p) => type.startsWith(p))) return;
    onMessage(m as ToPage);
  });
  return {
    post: (message) => api.postMessage(message),
    getState: () => api.getState(),
    setState: (s) => void api.setState(s),
    ready: () => api.postMessage({ type: MessageTypes.ready, payload: {} }),
  };
}
