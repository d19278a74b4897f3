import { z } from 'zod';
import { INPUT_SCHEMAS, type ModelKind } from './input-schemas';
import { sha256Hex } from './hash';
import { randomVersionId } from './ids';
import { conflict, notFound } from './problem';

export interface ModelVersion {
  id: string;
  /** "owner/name" */
  model: string;
  kind: ModelKind;
  createdAt: Date;
}

export interface ModelInfo {
  owner: string;
  name: string;
  visibility: 'public' | 'private';
  hardware: string;
  description?: string;
  github_url?: string;
  paper_url?: string;
  license_url?: string;
  cover_image_url?: string;
}

export interface Model extends ModelInfo {
  createdAt: Date;
  /** Built-in models play the part of Replicate's official models. */
  isOfficial: boolean;
  runCount: number;
  /** Oldest first; the last one is `latest_version`. */
  versions: ModelVersion[];
}

interface BuiltinModel {
  ref: string;
  kind: ModelKind;
  description: string;
}

const BUILTINS: readonly BuiltinModel[] = [
  { ref: 'black-forest-labs/flux-schnell', kind: 'flux-text-to-image', description: 'Fast text-to-image (local fake)' },
  { ref: 'stability-ai/sdxl', kind: 'sdxl-text-to-image', description: 'SDXL text-to-image (local fake)' },
  { ref: 'stability-ai/stable-diffusion-img2img', kind: 'image-to-image', description: 'Image-to-image (local fake)' },
  { ref: 'meta/musicgen', kind: 'text-to-audio', description: 'Text-to-music, WAV output (local fake)' },
  { ref: 'resemble-ai/resemble-enhance', kind: 'audio-enhancement', description: 'Speech enhancement (local fake)' },
  { ref: 'ostris/flux-dev-lora-trainer', kind: 'lora-trainer', description: 'FLUX LoRA trainer (local fake)' },
];

/** The deterministic 64-hex version id of a built-in model ("owner/name"). */
export function builtinVersionId(ref: string): string {
  return sha256Hex(`replicate-local:${ref}:v1`);
}

/** Built-in models with their kind and version id, e.g. for docs and tests. */
export const BUILTIN_MODELS = BUILTINS.map((b) => ({ ref: b.ref, kind: b.kind, version: builtinVersionId(b.ref) }));

const REF_PATTERN = /^([^/]+)\/([^/:]+)(?::(.+))?$/;
const EPOCH = new Date('2024-01-01T00:00:00Z');

const storedModels = z.array(
  z.object({
    owner: z.string(),
    name: z.string(),
    visibility: z.enum(['public', 'private']),
    hardware: z.string(),
    description: z.string().optional(),
    github_url: z.string().optional(),
    paper_url: z.string().optional(),
    license_url: z.string().optional(),
    cover_image_url: z.string().optional(),
    createdAt: z.coerce.date(),
    isOfficial: z.boolean(),
    runCount: z.int().min(0),
    versions: z.array(
      z.object({
        id: z.string(),
        kind: z.enum(Object.keys(INPUT_SCHEMAS) as [ModelKind, ...ModelKind[]]),
        createdAt: z.coerce.date(),
      }),
    ),
  }),
);

/**
 * Models and versions: the built-ins plus those created through the API and by trainings.
 * `onChange` is called after every change (the server persists `snapshot()` there when it has a data folder).
 */
export class ModelRegistry {
  private readonly models = new Map<string, Model>();
  private readonly versions = new Map<string, ModelVersion>();
  private onChange: () => void = () => undefined;

  constructor() {
    for (const b of BUILTINS) {
      const [owner = '', name = ''] = b.ref.split('/');
      const info: ModelInfo = { owner, name, visibility: 'public', hardware: 'gpu-h100', description: b.description };
      const model = this.create(info, { createdAt: EPOCH, isOfficial: true });
      this.addVersion(model, b.kind, builtinVersionId(b.ref), EPOCH);
    }
  }

  /** Every model with its versions, as JSON-able data for `restore`. */
  snapshot(): unknown {
    return this.list().map((model) => ({ ...model, versions: model.versions.map(({ id, kind, createdAt }) => ({ id, kind, createdAt })) }));
  }

  /** Merges a `snapshot()` taken earlier (ignored if malformed), then reports further changes to `onChange`. */
  restore(snapshot: unknown, onChange: () => void): void {
    const parsed = storedModels.safeParse(snapshot);
    for (const { versions, runCount, createdAt, isOfficial, ...info } of parsed.success ? parsed.data : []) {
      const model = this.get(info.owner, info.name) ?? this.create(info, { createdAt, isOfficial });
      model.runCount = runCount;
      for (const version of versions) this.addVersion(model, version.kind, version.id, version.createdAt);
    }
    this.onChange = onChange;
  }

  /** Throws 409 if the model exists, like Replicate. */
  create(info: ModelInfo, { createdAt = new Date(), isOfficial = false } = {}): Model {
    const key = `${info.owner}/${info.name}`;
    if (this.models.has(key)) throw conflict(`A model with the name "${key}" already exists.`);
    const model: Model = { ...info, createdAt, isOfficial, runCount: 0, versions: [] };
    this.models.set(key, model);
    this.onChange();
    return model;
  }

  get(owner: string, name: string): Model | undefined {
    return this.models.get(`${owner}/${name}`);
  }

  /** The model or a 404 problem. */
  require(owner: string, name: string): Model {
    const model = this.get(owner, name);
    if (!model) throw notFound(`Model ${owner}/${name} not found.`);
    return model;
  }

  /** Counts a prediction of `version` in its model's `run_count`. */
  countRun(version: ModelVersion): void {
    const model = this.models.get(version.model);
    if (!model) return;
    model.runCount++;
    this.onChange();
  }

  list(): Model[] {
    return [...this.models.values()];
  }

  /** Adds a version to the model; adding an id it already has returns the existing version. */
  addVersion(model: Model, kind: ModelKind, id = randomVersionId(), createdAt = new Date()): ModelVersion {
    const existing = this.versions.get(id);
    if (existing) return existing;
    const version: ModelVersion = { id, model: `${model.owner}/${model.name}`, kind, createdAt };
    model.versions.push(version);
    this.versions.set(id, version);
    this.onChange();
    return version;
  }

  /** The model's latest version, or a 404 if it has none yet (e.g. a destination model before training). */
  latestVersion(model: Model): ModelVersion {
    const latest = model.versions.at(-1);
    if (!latest) throw notFound(`Model ${model.owner}/${model.name} has no versions yet.`);
    return latest;
  }

  /** A version of `model` by id, or a 404. */
  versionOf(model: Model, id: string): ModelVersion {
    const version = this.versions.get(id);
    if (!version || version.model !== `${model.owner}/${model.name}`) {
      throw notFound(`Version ${id} of model ${model.owner}/${model.name} not found.`);
    }
    return version;
  }

  /** Resolves a prediction `version` field: "<version id>", "owner/name:<version id>" or "owner/name" (latest). */
  resolve(ref: string): ModelVersion {
    const match = REF_PATTERN.exec(ref);
    if (!match) {
      const version = this.versions.get(ref);
      if (!version) throw notFound(`The requested version does not exist: ${ref}`);
      return version;
    }
    const [, owner = '', name = '', id] = match;
    const model = this.require(owner, name);
    return id ? this.versionOf(model, id) : this.latestVersion(model);
  }
}
