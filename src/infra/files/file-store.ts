import type { FileStoreConfig } from '../../config.js';
import type { FileStore } from './file-store.port.js';
import { createFsFileStore, type FsFileStore } from './fs.file-store.js';
import { createS3FileStore } from './s3.file-store.js';

/** The one switch on the file store's kind (FILE_STORE). `fs` also needs the route app.ts mounts. */
export function createFileStore(
  config: FileStoreConfig,
  opts: { signingSecret: string; baseUrl: () => string },
): { store: FileStore; fs: FsFileStore | null } {
  switch (config.kind) {
    case 'fs': {
      const fs = createFsFileStore({ root: config.root, secret: opts.signingSecret, baseUrl: opts.baseUrl });
      return { store: fs, fs };
    }
    case 's3':
      return { store: createS3FileStore(config), fs: null };
    default:
      throw new Error(`unknown file store ${(config as { kind: string }).kind}`);
  }
}
