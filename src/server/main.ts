import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { startServer } from './server.js';

// The language server process. The transport (--stdio, --node-ipc, --socket=N, --pipe=NAME)
// comes from the command line, as vscode-languageserver reads it.
startServer(createConnection(ProposedFeatures.all));
