import type { ServerContext } from './context';
import { inputJsonSchema } from './input-schemas';
import { WEBHOOK_EVENTS, type Job } from './jobs';
import type { Model, ModelVersion } from './models';

const iso = (date: Date | null) => date?.toISOString() ?? null;
const seconds = (from: Date | null, to: Date | null) => (from && to ? (to.getTime() - from.getTime()) / 1000 : undefined);

/**
 * A prediction or training object as the Replicate API returns it. `webhook` and `webhook_events_filter`
 * appear only when the job has a webhook: real webhook bodies (documented to equal the GET response)
 * carry both, and the replicate client types them as optional; nothing shows the API sending null.
 */
export function serializeJob(ctx: ServerContext, job: Job): Record<string, unknown> {
  const self = `${ctx.apiBaseUrl}/${job.kind}s/${job.id}`;
  return {
    id: job.id,
    model: job.model,
    version: job.version,
    input: job.input,
    logs: job.logs,
    output: job.output,
    ...(job.kind === 'prediction' && { data_removed: job.dataRemoved }),
    error: job.error,
    status: job.status,
    source: 'api',
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    completed_at: iso(job.completedAt),
    urls: { get: self, cancel: `${self}/cancel` },
    metrics: {
      predict_time: seconds(job.startedAt, job.completedAt),
      total_time: seconds(job.createdAt, job.completedAt),
    },
    ...(job.webhook && {
      webhook: job.webhook,
      webhook_events_filter: job.webhookEventsFilter ?? [...WEBHOOK_EVENTS],
    }),
  };
}

export function serializeVersion(version: ModelVersion): Record<string, unknown> {
  return {
    id: version.id,
    created_at: version.createdAt.toISOString(),
    cog_version: '0.13.0',
    openapi_schema: {
      openapi: '3.0.2',
      info: { title: 'Cog', version: '0.1.0' },
      components: { schemas: { Input: inputJsonSchema(version.kind) } },
    },
  };
}

export function serializeModel(ctx: ServerContext, model: Model): Record<string, unknown> {
  const latest = model.versions.at(-1);
  return {
    url: `${ctx.publicBaseUrl}/${model.owner}/${model.name}`,
    owner: model.owner,
    name: model.name,
    description: model.description ?? null,
    visibility: model.visibility,
    is_official: model.isOfficial,
    run_count: model.runCount,
    github_url: model.github_url ?? null,
    paper_url: model.paper_url ?? null,
    license_url: model.license_url ?? null,
    cover_image_url: model.cover_image_url ?? null,
    default_example: null,
    latest_version: latest ? serializeVersion(latest) : null,
  };
}

/** A page in Replicate's list format; the cursor (the `cursor` query parameter) is an offset. */
export function paginate<T>(items: T[], cursor: unknown, pageUrl: (cursor: number) => string, pageSize = 100) {
  const start = Math.max(0, (typeof cursor === 'string' && Number(cursor)) || 0);
  const end = start + pageSize;
  return {
    previous: start > 0 ? pageUrl(Math.max(0, start - pageSize)) : null,
    next: end < items.length ? pageUrl(end) : null,
    results: items.slice(start, end),
  };
}
