import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../../config.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One process at a time on an embedded data directory: PGlite has no lock of its own, and two
 * processes writing the same files lose data (a seed while the server runs "succeeds" and is
 * gone). Writes `<dir>.lock` with our pid; a lock whose process is gone is taken over. Returns
 * the release function.
 */
export function lockDataDir(dir: string): () => void {
  const path = `${dir.replace(/\/$/, '')}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new ConfigError(
          `the embedded database in ${dir} is in use by process ${holder}: stop it first (or use DATABASE_URL)`,
        );
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  const release = () => {
    try {
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return release;
}
