import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RemoteJob } from '../../core/runs/records.js';
import { isTerminalStatus, parseClusterProfiles, profileFor, type ClusterProfile } from '../../core/scaleout/clusters.js';
import { DEFAULT_MODEL, type JobEngine, type JobStage } from '../../core/scaleout/exportJob.js';
import type { RayJobsClient } from '../../node/ray/jobsClient.js';
import type * as RemoteModule from './remoteModule.js';
import { setting, updateSetting } from '../config.js';
import { log } from '../log.js';
import { pickRun, type RunServices } from './runCommands.js';
import type { RunEntry, RunIndex } from './runIndex.js';

/**
 * Runs trained on a Ray cluster (docs/scaleout.md): "Submit Run to Cluster…", following every
 * submitted run that has not ended (its log, live metrics, status and, at the end, its
 * artefacts, all written into its own run folder, which the Runs view and the panels read like
 * any run), "Cancel Remote Run" and "Set Cluster Token". Clusters are machine-scoped settings
 * (`constitution.clusters`); their tokens live in secret storage only. Nothing here runs in an
 * untrusted workspace: the commands are trusted-only and following starts only when trusted.
 */

let remoteModule: typeof RemoteModule | undefined;
/** dist/remote.js, beside this bundle; a computed path keeps the bundler from inlining it. */
function remoteCode(): typeof RemoteModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (remoteModule ??= require(path.join(__dirname, 'remote.js')) as typeof RemoteModule);
}

/** A Ray client error the user can fix with a token (the error class lives in the other bundle). */
function isAuthError(e: unknown): boolean {
  const kind = (e as { name?: unknown; kind?: unknown } | null)?.kind;
  return (e as { name?: unknown } | null)?.name === 'RayJobsError' && (kind === 'unauthorized' || kind === 'forbidden');
}

const tokenKey = (profile: string) => `constitution.clusterToken.${profile}`;
/** How long a follow that failed waits before the next automatic try. */
const RETRY_MS = 60_000;

export function clusterProfiles(): { profiles: ClusterProfile[]; problems: string[] } {
  return parseClusterProfiles(setting('constitution.clusters'));
}

const isRemoteRun = (r: RunEntry): boolean => r.manifest?.remote !== undefined;
const isLiveRemote = (r: RunEntry): boolean => r.manifest?.remote !== undefined && !isTerminalStatus(r.manifest.remote.status);

export class RemoteRuns implements vscode.Disposable {
  private readonly following = new Map<string, AbortController>();
  private readonly problems = new Map<string, { message: string; at: number }>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly index: RunIndex,
  ) {
    this.statusItem = vscode.window.createStatusBarItem('constitution.remoteRuns', vscode.StatusBarAlignment.Left, 9);
    this.statusItem.name = 'Constitution Studio: remote runs';
    this.statusItem.command = 'workbench.view.extension.constitution';
    this.disposables.push(this.statusItem, this.emitter, index.onDidChange(() => this.sync()), vscode.workspace.onDidGrantWorkspaceTrust(() => this.sync()));
    // Jobs submitted before VS Code last closed are followed again; the scan waits until activation is over.
    const t = setTimeout(() => vscode.workspace.isTrusted && void index.ready(), 2000);
    this.disposables.push({ dispose: () => clearTimeout(t) });
  }

  isFollowing(dir: string): boolean {
    return this.following.has(dir);
  }

  /** Why following a run failed last (cleared when it succeeds). */
  problem(dir: string): string | undefined {
    return this.problems.get(dir)?.message;
  }

  /** Follows every remote run that has not ended and is not followed yet. */
  sync(): void {
    if (!vscode.workspace.isTrusted) return;
    for (const r of this.index.all()) {
      if (!isLiveRemote(r) || this.following.has(r.dir)) continue;
      const p = this.problems.get(r.dir);
      if (p && Date.now() - p.at < RETRY_MS) continue;
      void this.follow(r.dir);
    }
  }

  /** A client for a submitted run's cluster, with its profile's token and settings. */
  async clientFor(remote: Pick<RemoteJob, 'cluster' | 'profile'>): Promise<RayJobsClient> {
    const profile = profileFor(clusterProfiles().profiles, remote);
    const token = profile ? await this.context.secrets.get(tokenKey(profile.name)) : undefined;
    return remoteCode().clusterClient({ address: remote.cluster, ...(token ? { token } : {}), ...(profile?.allowInsecure ? { allowInsecure: true } : {}) });
  }

  /** Follows a run until its job ends (the job goes on if VS Code closes; following resumes on the next start). */
  async follow(dir: string): Promise<void> {
    if (this.following.has(dir)) return;
    const ac = new AbortController();
    this.following.set(dir, ac);
    this.changed();
    try {
      const { remote, manifest } = remoteCode().remoteOf(dir);
      const client = await this.clientFor(remote);
      log.info(`following ${remote.submissionId} on ${remote.cluster} into ${dir}`);
      const r = await remoteCode().followRemoteRun({ dir, client, signal: ac.signal, onStatus: (job) => (log.info(`${remote.submissionId}: ${job.status}`), this.index.touch(dir)) });
      this.problems.delete(dir);
      this.index.touch(dir);
      const pulled = r.pulled ? ` Pulled ${r.pulled.files} files; ${r.checkpoints.length} checkpoint(s).` : '';
      const pullError = r.pullError ? ` The artefacts were not pulled: ${r.pullError}` : '';
      const say = r.status === 'SUCCEEDED' && !r.pullError ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
      void say(`Remote run ${manifest.runId}: ${r.status}.${pulled}${pullError}`, 'Show Training Curves', 'Reveal Run Folder').then((pick) => {
        if (pick === 'Show Training Curves') void vscode.commands.executeCommand('constitution.showCurves', dir);
        if (pick === 'Reveal Run Folder') void vscode.commands.executeCommand('constitution.revealRun', dir);
      });
    } catch (e) {
      if (ac.signal.aborted) return;
      const message = e instanceof Error ? e.message : String(e);
      this.problems.set(dir, { message, at: Date.now() });
      log.warn(`following ${dir}: ${message}`);
      if (isAuthError(e)) {
        void vscode.window.showWarningMessage(`Cannot follow the remote run in ${path.basename(dir)}: ${message}`, 'Set Cluster Token').then((pick) => pick && void vscode.commands.executeCommand('constitution.setClusterToken'));
      }
    } finally {
      this.following.delete(dir);
      this.changed();
    }
  }

  private changed(): void {
    const n = this.following.size;
    this.statusItem.text = `$(cloud) ${n} remote run${n === 1 ? '' : 's'}`;
    this.statusItem.tooltip = `Constitution Studio is following ${n} run${n === 1 ? '' : 's'} on a Ray cluster`;
    if (n > 0) this.statusItem.show();
    else this.statusItem.hide();
    this.emitter.fire();
  }

  dispose(): void {
    // Stops following only: the jobs run on.
    for (const ac of this.following.values()) ac.abort();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Options a caller (a test, another extension) may pass instead of answering the pickers. */
export interface SubmitOptions {
  profile?: string;
  engine?: JobEngine;
  stage?: JobStage;
  model?: string;
  rewardModel?: string;
}

async function addCluster(): Promise<ClusterProfile | undefined> {
  const name = await vscode.window.showInputBox({ title: 'Add a Ray cluster (1/3): name', prompt: 'What to call the cluster', validateInput: (v) => (v.trim() ? undefined : 'Enter a name.') });
  if (!name) return undefined;
  const address = await vscode.window.showInputBox({
    title: 'Add a Ray cluster (2/3): dashboard address', prompt: 'The Ray dashboard, e.g. https://ray.example.org:8265', value: 'http://127.0.0.1:8265',
    validateInput: (v) => (/^https?:\/\/[^/\s]+/.test(v.trim()) ? undefined : 'An http(s):// address'),
  });
  if (!address) return undefined;
  const syncTarget = await vscode.window.showInputBox({
    title: 'Add a Ray cluster (3/3): sync target (optional)', prompt: 'Where jobs copy their output: a folder this machine and the cluster share, or s3://bucket/prefix. Leave empty to keep the output on the cluster.',
    validateInput: (v) => (!v.trim() || /^s3:\/\/[^/]+/.test(v.trim()) || v.trim().startsWith('/') ? undefined : 'An absolute path or an s3:// URI'),
  });
  if (syncTarget === undefined) return undefined;
  const profile: ClusterProfile = { name: name.trim(), address: address.trim(), ...(syncTarget.trim() ? { syncTarget: syncTarget.trim() } : {}) };
  const current = setting('constitution.clusters');
  await updateSetting('constitution.clusters', [...current, profile]);
  return profile;
}

async function pickProfile(options: SubmitOptions): Promise<ClusterProfile | undefined> {
  const { profiles, problems } = clusterProfiles();
  if (problems.length) void vscode.window.showWarningMessage(`Some clusters in settings were left out: ${problems.join('; ')}`);
  if (options.profile !== undefined) {
    const p = profiles.find((x) => x.name === options.profile);
    if (!p) void vscode.window.showErrorMessage(`No cluster named ${options.profile} in the constitution.clusters setting.`);
    return p;
  }
  const items: (vscode.QuickPickItem & { profile?: ClusterProfile })[] = profiles.map((p) => ({ label: p.name, description: p.address, detail: p.syncTarget ? `output copied to ${p.syncTarget}` : 'no sync target: the output stays on the cluster', profile: p }));
  items.push({ label: '$(add) Add a Cluster…' });
  const pick = await vscode.window.showQuickPick(items, { title: 'Submit to which Ray cluster?' });
  if (!pick) return undefined;
  return pick.profile ?? (await addCluster());
}

/** "Constitution: Submit Run to Cluster…": resolves with the new run folder (undefined when cancelled or refused). */
export async function submitRun(s: RunServices, remote: RemoteRuns, arg?: unknown, given?: unknown): Promise<string | undefined> {
  const options = (typeof given === 'object' && given !== null ? given : {}) as SubmitOptions;
  const run = await pickRun(s, arg, { title: 'Submit which run to a cluster?', filter: (r) => r.kind === 'run' && !isRemoteRun(r) });
  if (!run) return undefined;
  if (!run.manifest || isRemoteRun(run)) {
    void vscode.window.showErrorMessage(`${run.name} is ${run.manifest ? 'a run trained on a cluster already' : 'not one of our runs'}: submit the run it came from.`);
    return undefined;
  }
  const profile = await pickProfile(options);
  if (!profile) return undefined;
  const engine = options.engine ?? (await vscode.window.showQuickPick([
    { label: 'TRL', detail: 'Hugging Face TRL (SFTTrainer, RewardTrainer with the soft-label loss, PPOTrainer) through Constitution Studio\'s runner: live metrics', engine: 'trl' as const },
    { label: 'OpenRLHF', detail: 'OpenRLHF on Ray (DeepSpeed); metrics from its TensorBoard files when the job ends', engine: 'openrlhf' as const },
  ], { title: `Train ${run.name} with which engine?` }))?.engine;
  if (!engine) return undefined;
  const st = run.manifest.stages;
  const stage = options.stage ?? (await vscode.window.showQuickPick([
    { label: 'SL-CAI finetune', description: 'sft', detail: `supervised finetune on the revisions (critique stage: ${st.critique?.status ?? 'pending'})`, stage: 'sft' as const },
    { label: 'Preference model', description: 'pm', detail: `reward model on the AI-labelled pairs, soft labels kept (feedback stage: ${st.feedback?.status ?? 'pending'})`, stage: 'pm' as const },
    { label: 'PPO (RL-CAI)', description: 'ppo', detail: 'PPO on the run\'s prompts against a reward model you name', stage: 'ppo' as const },
  ], { title: 'Which stage?' }))?.stage;
  if (!stage) return undefined;
  const model = options.model ?? (typeof arg !== 'string' ? await vscode.window.showInputBox({ title: 'Model to train', prompt: 'A Hugging Face model id (or a path on the cluster)', value: DEFAULT_MODEL }) : DEFAULT_MODEL);
  if (!model) return undefined;
  let rewardModel = options.rewardModel;
  if (stage === 'ppo' && !rewardModel) {
    // The newest preference model trained on a cluster is the likely one.
    const pm = s.index.all().find((r) => r.manifest?.remote?.stage === 'pm' && r.manifest.remote.checkpoints?.some((c) => c.kind === 'model'));
    rewardModel = await vscode.window.showInputBox({ title: 'Reward model', prompt: 'The preference model PPO trains against: a path on the cluster or a Hugging Face id', value: pm?.manifest?.remote?.checkpoints?.find((c) => c.kind === 'model')?.remote ?? '' });
    if (!rewardModel) return undefined;
  }
  const token = await s.context.secrets.get(tokenKey(profile.name));
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Submitting ${run.name} (${stage}, ${engine}) to ${profile.name}`, cancellable: true }, async (progress, cancel) => {
    const ac = new AbortController();
    cancel.onCancellationRequested(() => ac.abort(new Error('cancelled')));
    try {
      return await remoteCode().submitRemoteRun({
        runDir: run.dir, engine, stage, runnerFile: path.join(s.context.extensionPath, 'resources', 'scaleout', 'runner.py'),
        options: { model, ...(rewardModel ? { rewardModel } : {}) },
        cluster: { address: profile.address, profile: profile.name, ...(token ? { token } : {}), ...(profile.allowInsecure ? { allowInsecure: true } : {}) },
        ...(profile.syncTarget ? { syncTarget: profile.syncTarget } : {}),
        ...(profile.gpus !== undefined ? { gpus: profile.gpus } : {}),
        ...(profile.image ? { image: profile.image } : {}),
        signal: ac.signal,
        onProgress: (message) => progress.report({ message }),
      });
    } catch (e) {
      if (ac.signal.aborted) return undefined;
      const message = e instanceof Error ? e.message : String(e);
      log.error(`submitting ${run.dir} to ${profile.address}: ${message}`);
      const auth = isAuthError(e);
      void vscode.window.showErrorMessage(`Submitting ${run.name} to ${profile.name} failed: ${message}`, ...(auth ? ['Set Cluster Token'] : [])).then((pick) => pick && void vscode.commands.executeCommand('constitution.setClusterToken', profile.name));
      return undefined;
    }
  });
  if (!result) return undefined;
  for (const n of result.notes) log.warn(`${result.submissionId}: ${n}`);
  await s.index.add(result.dir);
  void s.view()?.reveal(result.dir);
  void remote.follow(result.dir);
  void vscode.window.showInformationMessage(`Submitted ${result.submissionId} to ${profile.name}. Its run folder follows the job live.`, 'Show Training Curves').then((pick) => pick && void vscode.commands.executeCommand('constitution.showCurves', result.dir));
  return result.dir;
}

/** "Constitution: Cancel Remote Run": asks the cluster to stop the job (after a confirmation, unless called with a folder path). */
export async function cancelRun(s: RunServices, remote: RemoteRuns, arg?: unknown): Promise<boolean> {
  const run = await pickRun(s, arg, { title: 'Cancel which remote run?', filter: isLiveRemote });
  const job = run?.manifest?.remote;
  if (!run || !job) {
    if (run) void vscode.window.showErrorMessage(`${run.name} is not a run on a cluster.`);
    return false;
  }
  if (typeof arg !== 'string') {
    const ok = await vscode.window.showWarningMessage(`Stop ${job.submissionId} on ${job.cluster}?`, { modal: true, detail: 'The job stops on the cluster. What it has logged so far stays in the run folder.' }, 'Stop Job');
    if (ok !== 'Stop Job') return false;
  }
  try {
    const stopped = await remoteCode().cancelRemoteRun(run.dir, await remote.clientFor(job));
    s.index.touch(run.dir);
    if (!stopped) void vscode.window.showInformationMessage(`${job.submissionId} had ended already.`);
    return stopped;
  } catch (e) {
    void vscode.window.showErrorMessage(`Stopping ${job.submissionId} failed: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/** "Constitution: Set Cluster Token": stores (or, left empty, removes) a cluster's token in secret storage. */
export async function setClusterToken(context: vscode.ExtensionContext, profileArg?: unknown, tokenArg?: unknown): Promise<void> {
  const { profiles } = clusterProfiles();
  let name = typeof profileArg === 'string' ? profileArg : undefined;
  if (!name) {
    if (profiles.length === 0) {
      void vscode.window.showInformationMessage('No clusters yet: add one with "Constitution: Submit Run to Cluster…" or in the constitution.clusters setting.');
      return;
    }
    const items = await Promise.all(profiles.map(async (p) => ({ label: p.name, description: p.address, detail: (await context.secrets.get(tokenKey(p.name))) ? 'token stored' : 'no token stored' })));
    name = (await vscode.window.showQuickPick(items, { title: 'Set the token of which cluster?' }))?.label;
    if (!name) return;
  }
  const token = typeof tokenArg === 'string' ? tokenArg : await vscode.window.showInputBox({
    title: `Token for ${name}`, prompt: 'The cluster\'s Ray token (RAY_AUTH_TOKEN; `ray get-auth-token` prints it). Kept in VS Code\'s secret storage only. Leave empty to remove the stored one.',
    password: true, ignoreFocusOut: true, validateInput: (v) => (/\s/.test(v.trim()) ? 'A token has no spaces.' : undefined),
  });
  if (token === undefined) return;
  if (token.trim()) await context.secrets.store(tokenKey(name), token.trim());
  else await context.secrets.delete(tokenKey(name));
}
