// One process per data folder: PGlite and the spool both assume they are alone in DATA_DIR, so a
// second server started on the same folder (a second `npm start`) must refuse before it opens either.
// The lock is a file holding the owner's PID, created exclusively; one whose owner is gone is stale
// and taken over (a kill -9 leaves it behind). On a full disk the PID cannot be written: the lock is
// then a symbolic link whose target is the PID (it needs no data block), so a full disk still starts.
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

export class DataDirLockedError extends Error {
  readonly dir: string;
  readonly pid: number;
  constructor(dir: string, pid: number) {
    super(`the data folder ${dir} is in use by another Bunsen process (PID ${pid}): stop it, or give this one its own DATA_DIR`);
    this.name = "DataDirLockedError";
    this.dir = dir;
    this.pid = pid;
  }
}

export interface DataDirLock {
  /** The folder, absolute. */
  readonly dir: string;
  /** Removes the lock file (idempotent; also done at process exit). */
  release(): void;
}

const LOCK_FILE = "bunsen.lock";

/** Creates `dir` (recursively) and locks it for this process; throws DataDirLockedError when taken. */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, `${process.pid}\n`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
        unlinkSync(path);
        symlinkSync(String(process.pid), path);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const owner = ownerOf(path);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) throw new DataDirLockedError(dir, owner);
      unlinkSync(path); // stale: its process is gone
    }
  }
  let isReleased = false;
  const release = () => {
    if (isReleased) return;
    isReleased = true;
    process.off("exit", release);
    try {
      if (ownerOf(path) === process.pid) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on("exit", release);
  return { dir, release };
}

function ownerOf(path: string): number | undefined {
  try {
    let text: string;
    try {
      text = readlinkSync(path); // the full-disk form
    } catch {
      text = readFileSync(path, "utf8");
    }
    const pid = Number.parseInt(text, 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, owned by another user
  }
}
