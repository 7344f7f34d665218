// Starts the real facegate binary on a free port with a fresh data directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVER_BIN, MODELS } from './paths.mjs';

const READY = /facegate listening on (http:\/\/\S+)/;

/** Resolves `{ url, stop() }` once the server printed its address; rejects if it exits first. */
export async function startServer({ extraArgs = [], env = {} } = {}) {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`${SERVER_BIN} not found: build it with "cargo build --release -p facegate" (or set FACEGATE_BIN)`);
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facegate-browser-'));
  const child = spawn(SERVER_BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dataDir, 'data'), '--models', MODELS, ...extraArgs], {
    cwd: dataDir, // no stray facegate.toml gets picked up
    // Tests send history by the hundred faster than people do: the per-account chat write
    // limit is raised (a test may set it back through `env`).
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn', FACEGATE_RATE_LIMIT_CHAT_WRITE_BURST: '100000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start within 60 s\n${log}`)), 60000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = READY.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}\n${log}`));
    });
  });
  child.stdout.resume();
  return {
    url: url.replace(/\/$/, ''),
    /** The server's data directory, for `facegate admin ... --data-dir`. */
    dataDir: path.join(dataDir, 'data'),
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
