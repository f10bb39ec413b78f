/**
 * A throwaway copy of this repository in the system temp folder, for tests and benchmarks of
 * the repository tooling (lint:arch, arch:graph, new:module) that must not touch the real tree.
 * node_modules is a symlink to the real one unless asked otherwise.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { REPO_ROOT } from './repo-root.ts';

/** Top-level entries of the repository that a copy leaves out. */
const NOT_COPIED = new Set(['node_modules', '.git', '.data', '.tmp', 'coverage']);

/** Output and exit code of a command run in a copy. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertions on what a developer sees. */
  output: string;
  ms: number;
}

export interface RepoCopy {
  /** Absolute path of the copy. */
  dir: string;
  /** Runs `command` (looked up in the copy's node_modules/.bin first) in the copy. */
  run(command: string, args?: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult>;
  read(path: string): string;
  write(path: string, content: string): void;
  append(path: string, content: string): void;
  remove(path: string): void;
  exists(path: string): boolean;
  /** Path -> content hash of every file of the copy (node_modules left out). */
  fingerprint(): Map<string, string>;
  dispose(): void;
}

/** The environment of a child process, without what a parent vitest sets for its own workers. */
function childEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(VITEST|TINYPOOL|NODE_OPTIONS$)/.test(key)) env[key] = value;
  }
  return { ...env, NO_COLOR: '1', FORCE_COLOR: '0', PATH: `${join(dir, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, ...extra };
}

/**
 * Copies the working tree (as it is, uncommitted changes included) to a new temp folder.
 * @param opts.linkNodeModules symlink node_modules to the real one (default true).
 */
export function copyRepo(opts: { linkNodeModules?: boolean; prefix?: string } = {}): RepoCopy {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'pos-repo-copy-'));
  for (const entry of readdirSync(REPO_ROOT)) {
    if (NOT_COPIED.has(entry)) continue;
    cpSync(join(REPO_ROOT, entry), join(dir, entry), { recursive: true, filter: (src) => !src.split(sep).includes('node_modules') });
  }
  if (opts.linkNodeModules !== false) symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');

  const at = (path: string) => join(dir, path);
  return {
    dir,
    run(command, args = [], runOpts = {}) {
      const started = performance.now();
      return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: dir, env: childEnv(dir, runOpts.env), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), runOpts.timeoutMs ?? 120_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}`, ms: performance.now() - started });
        });
      });
    },
    read: (path) => readFileSync(at(path), 'utf8'),
    write(path, content) {
      mkdirSync(dirname(at(path)), { recursive: true });
      writeFileSync(at(path), content);
    },
    append(path, content) {
      writeFileSync(at(path), readFileSync(at(path), 'utf8') + content);
    },
    remove: (path) => rmSync(at(path), { recursive: true, force: true }),
    exists: (path) => existsSync(at(path)),
    fingerprint() {
      const files = new Map<string, string>();
      for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        const path = join(entry.parentPath, entry.name);
        const rel = relative(dir, path).split(sep).join('/');
        if (rel === 'node_modules' || rel.startsWith('node_modules/')) continue;
        files.set(rel, entry.isFile() ? createHash('sha1').update(readFileSync(path)).digest('hex') : entry.isDirectory() ? 'dir' : 'other');
      }
      return files;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
