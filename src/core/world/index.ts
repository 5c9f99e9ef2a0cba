// The built-in world (docs/built-in-world.md): procedurally generated assistant conversations
// whose harmfulness is known by construction, and the oracle that scores any output.
export * from './lexicon.js';
export * from './responses.js';
export * from './oracle.js';
export * from './generate.js';
export { capitalize, gerundOf, gerundPhrase, toSecondPerson, words } from './text.js';
