// Cluster profiles: the Ray clusters a user submits runs to, from the machine-scoped setting
// `constitution.clusters`. Pure: the extension reads the setting and stores tokens elsewhere
// (secret storage); this checks each entry and says which one is wrong and why.

export interface ClusterProfile {
  name: string;
  /** Ray dashboard address, `http(s)://host:8265`. */
  address: string;
  /** A shared absolute path or an s3:// URI the job copies its output to. */
  syncTarget?: string;
  /** GPUs for the job's entrypoint (default 1). */
  gpus?: number;
  image?: string;
  allowInsecure?: boolean;
}

const KEYS = new Set(['name', 'address', 'syncTarget', 'gpus', 'image', 'allowInsecure']);

/** The valid profiles, and one line per entry left out (`constitution.clusters[2]: …`). */
export function parseClusterProfiles(value: unknown): { profiles: ClusterProfile[]; problems: string[] } {
  const profiles: ClusterProfile[] = [];
  const problems: string[] = [];
  if (value === undefined || value === null) return { profiles, problems };
  if (!Array.isArray(value)) return { profiles, problems: ['constitution.clusters: must be a list of clusters'] };
  const names = new Set<string>();
  value.forEach((entry: unknown, i) => {
    const at = `constitution.clusters[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return void problems.push(`${at}: must be an object with name and address`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !KEYS.has(k));
    const bad = (why: string) => void problems.push(`${at}${typeof e['name'] === 'string' ? ` (${e['name']})` : ''}: ${why}`);
    if (unknown.length) return bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
    if (typeof e['name'] !== 'string' || !e['name'].trim()) return bad('needs a name');
    const name = e['name'].trim();
    if (names.has(name)) return bad(`the name ${name} is used twice`);
    if (typeof e['address'] !== 'string' || !/^https?:\/\/[^/\s]+/.test(e['address'])) return bad('address must be the dashboard URL, http(s)://host:8265');
    const p: ClusterProfile = { name, address: e['address'].trim().replace(/\/+$/, '') };
    if (e['syncTarget'] !== undefined) {
      const t = e['syncTarget'];
      if (typeof t !== 'string' || !(/^s3:\/\/[^/]+/.test(t) || t.startsWith('/') || t.startsWith('file://'))) return bad('syncTarget must be an absolute shared path or an s3:// URI');
      p.syncTarget = t;
    }
    if (e['gpus'] !== undefined) {
      if (typeof e['gpus'] !== 'number' || !Number.isInteger(e['gpus']) || e['gpus'] < 0) return bad('gpus must be a whole number ≥ 0');
      p.gpus = e['gpus'];
    }
    if (e['image'] !== undefined) {
      if (typeof e['image'] !== 'string' || !e['image'].trim()) return bad('image must be a container image name');
      p.image = e['image'].trim();
    }
    if (e['allowInsecure'] !== undefined) {
      if (typeof e['allowInsecure'] !== 'boolean') return bad('allowInsecure must be true or false');
      p.allowInsecure = e['allowInsecure'];
    }
    names.add(name);
    profiles.push(p);
  });
  return { profiles, problems };
}

/** The profile a submitted run belongs to: by name when it recorded one, else by address. */
export function profileFor(profiles: readonly ClusterProfile[], remote: { profile?: string; cluster: string }): ClusterProfile | undefined {
  const norm = (a: string) => a.trim().replace(/\/+$/, '');
  return (remote.profile ? profiles.find((p) => p.name === remote.profile) : undefined) ?? profiles.find((p) => norm(p.address) === norm(remote.cluster));
}

const TERMINAL: ReadonlySet<string> = new Set(['STOPPED', 'SUCCEEDED', 'FAILED']);

/** STOPPED, SUCCEEDED and FAILED are final: a Ray job in one of them never changes again. */
export function isTerminalStatus(status: string): boolean {
  return TERMINAL.has(status);
}
