// Cluster profiles from the `constitution.clusters` setting (src/core/scaleout/clusters.ts): valid
// entries kept, each bad one named by its index and reason; a submitted run's profile found by
// name, else by address.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTerminalStatus, parseClusterProfiles, profileFor } from '../../src/core/scaleout/clusters';

describe('cluster profiles', () => {
  it('keeps valid entries, normalising addresses, and names every bad one', () => {
    const r = parseClusterProfiles([
      { name: ' lab ', address: 'https://ray.lab.example:8265/', syncTarget: '/mnt/shared/cai', gpus: 2 },
      { name: 'cloud', address: 'http://127.0.0.1:8265', syncTarget: 's3://bucket/runs', image: 'rayproject/ray:2.54.0-gpu', allowInsecure: false },
      { name: 'lab', address: 'https://other:8265' },
      { name: 'x', address: 'ray.lab:8265' },
      { name: 'y', address: 'http://a:1', syncTarget: 'relative/dir' },
      { name: 'z', address: 'http://a:1', gpus: 1.5 },
      { name: 'w', address: 'http://a:1', token: 'secret' },
      'lab',
      { address: 'http://a:1' },
    ]);
    assert.deepEqual(r.profiles, [
      { name: 'lab', address: 'https://ray.lab.example:8265', syncTarget: '/mnt/shared/cai', gpus: 2 },
      { name: 'cloud', address: 'http://127.0.0.1:8265', syncTarget: 's3://bucket/runs', image: 'rayproject/ray:2.54.0-gpu', allowInsecure: false },
    ]);
    assert.deepEqual(r.problems, [
      'constitution.clusters[2] (lab): the name lab is used twice',
      'constitution.clusters[3] (x): address must be the dashboard URL, http(s)://host:8265',
      'constitution.clusters[4] (y): syncTarget must be an absolute shared path or an s3:// URI',
      'constitution.clusters[5] (z): gpus must be a whole number ≥ 0',
      'constitution.clusters[6] (w): unknown field token',
      'constitution.clusters[7]: must be an object with name and address',
      'constitution.clusters[8]: needs a name',
    ]);
    assert.deepEqual(parseClusterProfiles(undefined), { profiles: [], problems: [] });
    assert.deepEqual(parseClusterProfiles({ name: 'a' }).problems, ['constitution.clusters: must be a list of clusters']);
  });

  it('finds a submitted run\'s profile by its name, else by its address', () => {
    const { profiles } = parseClusterProfiles([
      { name: 'a', address: 'http://127.0.0.1:8265' },
      { name: 'b', address: 'https://ray.example:8265' },
    ]);
    assert.equal(profileFor(profiles, { profile: 'b', cluster: 'http://127.0.0.1:8265' })?.name, 'b');
    assert.equal(profileFor(profiles, { profile: 'gone', cluster: 'https://ray.example:8265/' })?.name, 'b');
    assert.equal(profileFor(profiles, { cluster: 'http://127.0.0.1:8265' })?.name, 'a');
    assert.equal(profileFor(profiles, { cluster: 'http://10.0.0.1:8265' }), undefined);
  });

  it('knows which Ray job states are final', () => {
    assert.deepEqual(['PENDING', 'RUNNING', 'STOPPED', 'SUCCEEDED', 'FAILED'].map(isTerminalStatus), [false, false, true, true, true]);
  });
});
