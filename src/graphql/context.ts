import type { Services } from '../domain/services.js';
import type { Loaders } from '../domain/loaders.js';
import type { Viewer } from '../domain/viewer.js';

/** What every resolver gets: who is asking, the domain services, and this request's loaders. */
export interface GraphQLContext {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  /** The raw bearer token, for logOut. */
  token: string | null;
}
