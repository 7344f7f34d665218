// Where things are: the repository, the shared photos, and scratch/artifact folders.
import path from 'node:path';
import os from 'node:os';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const FACES = process.env.FACEGATE_FACES || path.resolve(REPO, '..', 'shared', 'faces');
export const MODELS = process.env.FACEGATE_MODELS || path.join(REPO, 'models');
export const ARTIFACTS = path.join(REPO, 'artifacts', 'browser');
export const CACHE = path.join(os.tmpdir(), 'facegate-browser-cache');
export const SERVER_BIN = process.env.FACEGATE_BIN || path.join(REPO, 'target', 'release', 'facegate');
// Writes a tutorial-stack MongoDB export from photos (crates/server/examples/mongo_export.rs,
// built by `cargo test --release`).
export const MONGO_EXPORT_BIN = process.env.FACEGATE_MONGO_EXPORT_BIN
  || path.join(path.dirname(SERVER_BIN), 'examples', 'mongo_export');

mkdirSync(ARTIFACTS, { recursive: true });
mkdirSync(CACHE, { recursive: true });
