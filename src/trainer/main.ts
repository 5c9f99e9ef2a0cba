// Entry of the trainer bundle (dist/trainer.js), forked by the extension host and by `cai`:
// the process shell of process.ts with the engine's job runners and backend loader.
import { initializeBackend } from './backend.js';
import { createEngineRegistry } from './engine.js';
import { startTrainerProcess } from './process.js';

startTrainerProcess({ registry: createEngineRegistry(), initializeBackend });
