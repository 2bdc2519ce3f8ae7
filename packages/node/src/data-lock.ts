/**
 * One node per data directory. lmdb lets several processes open one environment, but two nodes
 * writing one chain would interleave heads and tree-node locations; a `LOCK` file holding the
 * owner's process id keeps a second node out. A lock left by a process that no longer runs
 * (after kill -9 or a power cut) is taken over, so crash recovery needs no manual step.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { StrataError } from '@strata/primitives';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock of `dir` (which must exist) for this process; returns the function that
 * releases it. Throws CONFIG_INVALID naming the process that holds it.
 */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(path, 'utf8').trim());
    } catch {
      // vanished meanwhile: try again
    }
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
      throw new StrataError('CONFIG_INVALID', `data dir ${dir} is in use by process ${owner}; stop that node or use another --data-dir`, { pid: owner });
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new StrataError('CONFIG_INVALID', `could not take the lock of data dir ${dir}`);
}
