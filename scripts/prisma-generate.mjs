// Runs `prisma generate` without internet access.
// The Prisma CLI wants a schema-engine binary it would otherwise download; `generate` does not use
// it, so pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file lets generation run offline
// (see ../shared/DESIGN.md section 5). Migrations are applied by our own migrator (src/infra/db/migrator.ts).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? self,
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  CHECKPOINT_DISABLE: '1',
};
const r = spawnSync('npx', ['--no-install', 'prisma', 'generate'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
