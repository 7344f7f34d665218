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

mkdirSync(ARTIFACTS, { recursive: true });
mkdirSync(CACHE, { recursive: true });
