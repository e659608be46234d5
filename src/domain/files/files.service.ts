import type { ServiceDeps } from '../deps.js';
import type { ChannelsService } from '../channels/channels.service.js';
import type { Viewer } from '../viewer.js';
import type { File } from '../../generated/prisma/client.js';
import { isDomainError } from '../errors.js';

/** File references. Upload, storage and presigned URLs are the files issue; this checks access. */
export function createFilesService(deps: ServiceDeps, channels: ChannelsService) {
  return {
    /** A file whose channel the viewer may read, or null (absent and hidden look the same). */
    async accessFile(viewer: Viewer, fileId: bigint): Promise<File | null> {
      const file = await deps.prisma.file.findUnique({ where: { id: fileId } });
      if (!file) return null;
      try {
        await channels.accessChannel(viewer, file.channelId);
        return file;
      } catch (err) {
        if (isDomainError(err) && err.code === 'NOT_FOUND') return null;
        throw err;
      }
    },
  };
}
