import { defineConfig } from 'prisma/config';

// The datasource URL is only needed by Prisma CLI commands that talk to the database.
// The application builds its own client from DATABASE_URL (src/db/client.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
});
