// Entry of the trainer bundle (dist/trainer.js), forked by the extension host and by `cai`:
// the process shell of process.ts with the engine's job runners and backend loader.
import { initializeBackend } from './backend.js';
import { createEngineRegistry } from './engine.js';
import { startTrainerProcess } from './process.js';

// Ctrl-C in a terminal signals the whole process group, this process included: the parent turns
// it into a stop with a checkpoint, so the trainer itself must not die of it.
process.on('SIGINT', () => undefined);

startTrainerProcess({ registry: createEngineRegistry(), initializeBackend });
