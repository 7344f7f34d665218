// Fake webcam clips for the live check, made by crates/liveness-eval: a rendered genuine person
// who follows the prompt script the test server is given (LIVE_ENV), and the attack species
// (a still photo, a moved photo, a replayed clip, another person). Made once per version of
// that crate, into the cache.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { REPO, CACHE } from './paths.mjs';

/** The fixed prompts the clips were rendered for; a server under test must ask exactly these. */
export const LIVE_SCRIPT = 'turn_left,turn_right';
export const LIVE_ENV = { FACEGATE_FACE_LIVENESS_SCRIPT: LIVE_SCRIPT };

/** The file name of each kind of clip showing (or, for `other`, passing itself off as) `person`. */
const KINDS = {
  genuine: (person) => new RegExp(`^genuine_${person}\\.y4m$`),
  still: (person) => new RegExp(`^still_photo_${person}\\.y4m$`),
  moved: (person) => new RegExp(`^moved_photo_${person}\\.y4m$`),
  replay: (person) => new RegExp(`^replay_${person}\\.y4m$`),
  other: (person) => new RegExp(`^other_person_[a-z_]+_as_${person}\\.y4m$`),
};

function version() {
  try {
    const tree = execFileSync('git', ['rev-parse', 'HEAD:crates/liveness-eval'], { cwd: REPO }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'crates/liveness-eval'], { cwd: REPO }).toString().trim();
    return dirty ? `${tree.slice(0, 12)}-dirty-${Date.now()}` : tree.slice(0, 12);
  } catch {
    return `untracked-${Date.now()}`;
  }
}

let made = null;

/** Every clip's path, made once: `{ files, find(kind, person) }`. Throws when they cannot be made. */
export function liveClips() {
  if (made) return made;
  const root = path.join(CACHE, 'live-clips');
  mkdirSync(root, { recursive: true });
  const existing = readdirSync(root).filter((d) => !d.includes('-dirty-') && !d.startsWith('untracked') && !d.startsWith('tmp'));
  const want = version();
  let dir = path.join(root, want);
  if (!existsSync(dir)) {
    const scratch = mkdtempSync(path.join(root, 'tmp-'));
    try {
      execFileSync('cargo', ['run', '--release', '--quiet', '-p', 'facegate-liveness-eval', '--', 'y4m', '--out', scratch],
        { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      rmSync(scratch, { recursive: true, force: true });
      const fallback = existing.length ? path.join(root, existing.sort().at(-1)) : null;
      if (!fallback) throw new Error(`the live-check clips could not be made ("cargo run -p facegate-liveness-eval -- y4m"): ${err.message}`);
      dir = fallback;
    }
    if (existsSync(scratch)) renameSync(scratch, dir);
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
    find(kind, person = 'obama') {
      const hit = files.find((f) => KINDS[kind](person).test(path.basename(f)));
      if (!hit) throw new Error(`no ${kind} clip of ${person} among ${files.map((f) => path.basename(f)).join(', ')}`);
      return hit;
    },
  };
  return made;
}
