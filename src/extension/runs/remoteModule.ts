// The node-side scale-out code the extension uses (Ray client, export, zip, log follower, artefact
// pull), built as its own bundle, dist/remote.js, and loaded on the first submit or follow, so
// the extension's activation does not pay for it (src/extension/runs/remoteRuns.ts loads it).

export { cancelRemoteRun, clusterClient, followRemoteRun, remoteOf, submitRemoteRun } from '../../node/scaleout/remoteRun.js';
