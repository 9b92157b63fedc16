/**
 * Reading one file for the readers of this folder: opened with O_NONBLOCK so that a FIFO never
 * blocks a libuv thread in open() (four such opens stall every file operation of the process,
 * and `process.exit()` too), then fstat'ed, and only a regular file is read.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { permanent } from '../classify/index.js';
import { kindOf } from './fs-errors.js';

const READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

/** The bytes of the regular file at `path` and its stats; a FIFO, socket or device is refused (`EINVAL`, permanent). */
export async function readRegularFile(where: string, path: string, signal: AbortSignal): Promise<{ bytes: Buffer; stats: Stats }> {
  const handle = await open(path, READ_FLAGS);
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) {
      // What readFile() says of a directory, so the classifier's EISDIR rule keeps applying.
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: 'EISDIR', errno: -21, syscall: 'read', path });
    }
    if (!stats.isFile()) {
      throw permanent(Object.assign(
        new Error(`${where}: "${path}" is ${kindOf(stats)}; only regular files are read (a FIFO would block the read until someone writes to it)`),
        { code: 'EINVAL', path },
      ));
    }
    return { bytes: await handle.readFile({ signal }), stats };
  } finally {
    await handle.close();
  }
}
