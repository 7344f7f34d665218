// Fake webcam clips for the live check, made by crates/liveness-eval: a rendered genuine person
// who follows the prompt script the test server is given (LIVE_ENV), and the attack species
// (a still photo, a moved photo, a replayed clip, another person). Made once per version of
// that crate's source, into the cache.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { REPO, CACHE } from './paths.mjs';

/** The fixed prompts the clips were rendered for; a server under test must ask exactly these. */
export const LIVE_SCRIPT = 'turn_left,turn_right';
export const LIVE_ENV = { FACEGATE_FACE_LIVENESS_SCRIPT: LIVE_SCRIPT };
/** Whose account the live tests use (PEOPLE key): the clips show this person, rendered from photo _2. */
export const LIVE_PERSON = 'biden';

/** The file name of each kind of clip showing (or, for `other`, passing itself off as) `person`. */
const KINDS = {
  genuine: (person) => new RegExp(`^genuine_${person}\\.y4m$`),
  still: (person) => new RegExp(`^still_photo_${person}\\.y4m$`),
  moved: (person) => new RegExp(`^moved_photo_${person}\\.y4m$`),
  replay: (person) => new RegExp(`^replay_${person}\\.y4m$`),
  other: (person) => new RegExp(`^other_person_[a-z_]+_as_${person}\\.y4m$`),
};

/** A key of the clip maker's source: the clips are made again when it changes. */
function version() {
  const hash = createHash('sha256');
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else hash.update(`${path.relative(REPO, p)}\0`).update(readFileSync(p));
    }
  };
  walk(path.join(REPO, 'crates', 'liveness-eval'));
  return hash.digest('hex').slice(0, 16);
}

let made = null;

/** Every clip's path, made once: `{ files, find(kind, person) }`. Throws when they cannot be made. */
export function liveClips() {
  if (made) return made;
  const root = path.join(CACHE, 'live-clips');
  mkdirSync(root, { recursive: true });
  // FACEGATE_LIVE_CLIPS: a folder of clips made elsewhere (or earlier) instead of making them.
  const dir = process.env.FACEGATE_LIVE_CLIPS ? path.resolve(process.env.FACEGATE_LIVE_CLIPS) : path.join(root, version());
  if (!existsSync(dir)) {
    const scratch = mkdtempSync(path.join(root, 'tmp-'));
    try {
      execFileSync('cargo', ['run', '--release', '--quiet', '-p', 'facegate-liveness-eval', '--', 'y4m', '--out', scratch],
        { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      rmSync(scratch, { recursive: true, force: true });
      throw new Error(`the live-check clips could not be made ("cargo run -p facegate-liveness-eval -- y4m"): ${err.message}`);
    }
    // Clips of older versions of the maker are of no more use (each set is a few hundred MB).
    for (const old of readdirSync(root)) if (old !== path.basename(scratch)) rmSync(path.join(root, old), { recursive: true, force: true });
    renameSync(scratch, dir);
  }
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.y4m')) files.push(path.join(d, e.name));
    }
  };
  walk(dir);
  if (files.length === 0) throw new Error(`no .y4m clips in ${dir}`);
  made = {
    dir,
    files,
    /** The clip of `kind` (genuine, still, moved, replay, other) showing `person`. */
    find(kind, person = LIVE_PERSON) {
      const hit = files.find((f) => KINDS[kind](person).test(path.basename(f)));
      if (!hit) throw new Error(`no ${kind} clip of ${person} among ${files.map((f) => path.basename(f)).join(', ')}`);
      return hit;
    },
  };
  return made;
}
