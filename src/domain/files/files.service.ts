import type { ServiceDeps } from '../deps.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { Viewer } from '../viewer.js';
import type { File } from '../../generated/prisma/client.js';
import { isDomainError, notFound } from '../errors.js';

/** File references. Upload, storage and presigned URLs are the files issue; this checks access. */
export function createFilesService(deps: ServiceDeps, channels: ChannelsService) {
  return {
    /** Loads a file the viewer may read (through its channel); NOT_FOUND otherwise, like every access check. */
    async accessFile(viewer: Viewer, fileId: bigint): Promise<File> {
      const file = await deps.prisma.file.findUnique({ where: { id: fileId } });
      if (!file) throw notFound('file', fileId);
      try {
        await channels.accessChannel(viewer, file.channelId);
        return file;
      } catch (err) {
        if (isDomainError(err) && err.code === 'NOT_FOUND') throw notFound('file', fileId);
        throw err;
      }
    },
  };
}
