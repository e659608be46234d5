import type { Services } from '../domain/services.js';
import type { Loaders } from './loaders.js';
import type { Viewer } from '../domain/viewer.js';
import type { ConnectionState } from '../realtime/connection.js';
import type { Realtime } from '../realtime/realtime.js';
import type { StagedUpload } from '../domain/files/files.service.js';

/** The files of this request's multipart body, already in the store (gateway/uploads.ts). */
export interface StagedUploads {
  /** The staged upload a `File` argument names; null when unknown or already claimed. */
  claim(ref: string): StagedUpload | null;
}

/** What every resolver gets: who is asking, the domain services, and this request's loaders. */
export interface GraphQLContext {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  /** The raw bearer token, for logOut. */
  token: string | null;
  realtime: Realtime;
  /** The client connection (a WebSocket, or one HTTP request). */
  connection: ConnectionState;
  /**
   * Set when a resolver's answer depends on who is asking (reactedByMe, unread counts...). The
   * subscription renderer shares one execution of an event among subscribers only when unset.
   */
  viewerDependency: { used: boolean };
  /** Set on multipart requests only: what `File` arguments refer to. */
  uploads?: StagedUploads | null;
}
