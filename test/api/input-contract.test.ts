import { PassThrough } from 'node:stream';
import archiver from 'archiver';
import supertest from 'supertest';
import Replicate from 'replicate';
import { main as checkContractsCli } from '../../scripts/check-contracts';
import { checkAllContracts } from '../../src/catalog/check-contracts';
import { checkContract, type OpenApiSchema } from '../../src/catalog/contract-check';
import { getCatalogModel, modelContract } from '../../src/catalog/service';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { fundedUser, photos, trainedVersion } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const FLUX = 'black-forest-labs/flux-schnell';
const SDXL = 'stability-ai/sdxl';
const MUSICGEN = 'meta/musicgen';

let env: TestEnv;
let replicate: Replicate;
beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50, training_latency_ms: 200 } });
  replicate = new Replicate({ auth: env.config.replicate.apiToken, baseUrl: env.config.replicate.baseUrl });
});
afterAll(() => env?.stop());

const generate = (user: TestUser, body: object, api = env.api) => api.post('/api/v1/generate').set(user.auth).send(body);

/** Everything a rejected request must leave untouched: balance, ledger, jobs and workflows of the user. */
async function footprint(user: TestUser) {
  const [balance, ledger, jobs, workflows] = await Promise.all([
    env.db.creditBalance.findUnique({ where: { userId: user.id }, select: { credits: true, reserved: true } }),
    env.db.creditLedger.count({ where: { userId: user.id } }),
    env.db.job.count({ where: { userId: user.id } }),
    env.temporal.workflow.count(`UserId = "${user.id}"`),
  ]);
  return { balance, ledger, jobs, workflows: workflows.count };
}

/** A zip of one photo as a data: URI, which the local trainer accepts as `input_images`. */
async function photoZipDataUri(): Promise<string> {
  const zip = archiver('zip');
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => out.on('end', resolve));
  zip.pipe(out);
  zip.append((await photos(1))[0]!, { name: 'photo-0.png' });
  await zip.finalize();
  await done;
  return `data:application/zip;base64,${Buffer.concat(chunks).toString('base64')}`;
}

/** Trains a model on the local provider the way the training workflow does; its "owner/name:version". */
async function trainOnProvider(): Promise<string> {
  const [trainerRef = '', trainerVersion = ''] = env.config.training.trainerModel.split(':');
  const [owner = '', name = ''] = trainerRef.split('/');
  const destination = { owner: 'contract-check', name: `trained-${Date.now()}` };
  await replicate.models.create(destination.owner, destination.name, { visibility: 'private', hardware: 'gpu-h100' });
  let training = await replicate.trainings.create(owner, name, trainerVersion, {
    destination: `${destination.owner}/${destination.name}`,
    input: { input_images: await photoZipDataUri(), trigger_word: 'TOK' },
  });
  const deadline = Date.now() + 30_000;
  while (!['succeeded', 'failed', 'canceled'].includes(training.status) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    training = await replicate.trainings.get(training.id);
  }
  expect([training.status, training.error]).toEqual(['succeeded', null]);
  return (training.output as { version: string }).version;
}

describe('contracts against the provider', () => {
  it("when every contract is checked against the provider's published input schemas, then each field users may set exists there with a compatible type, range and enum", async () => {
    const trained = await trainOnProvider();
    const reports = await checkAllContracts({ db: env.db, replicate }, { devOnly: true, trainedVersion: trained });
    expect(reports.map((r) => r.model)).toEqual([FLUX, SDXL, 'stability-ai/stable-diffusion-img2img', MUSICGEN, 'resemble-ai/resemble-enhance', trained]);
    expect(reports.map((r) => [r.model, r.problems])).toEqual(reports.map((r) => [r.model, []]));
    // The local provider does not model the safety checker: the protected field is noted, not hidden.
    expect(reports[0]!.notes).toEqual([expect.stringContaining('disable_safety_checker')]);

    // The same check as operators run it (npm run catalog:check), with the newest trained model from the database.
    const lines: string[] = [];
    const cliEnv = { DATABASE_URL: env.config.database.url, REPLICATE_BASE_URL: env.config.replicate.baseUrl, REPLICATE_API_TOKEN: env.config.replicate.apiToken };
    expect(await checkContractsCli(['--trained', trained], { env: cliEnv, log: (l) => lines.push(l) })).toBe(0);
    expect(lines.filter((l) => l.startsWith('ok'))).toEqual(reports.map((r) => `ok   ${r.model}`));

    // A catalog row that drifted from the provider fails the check, naming the model and the field.
    const row = await env.db.catalogModel.findUniqueOrThrow({ where: { name: MUSICGEN } });
    await env.db.catalogModel.update({ where: { name: MUSICGEN }, data: { inputContract: { duration: { type: 'integer', description: 'too long', minimum: 1, maximum: 300 } } } });
    try {
      const failed: string[] = [];
      expect(await checkContractsCli(['--trained', trained], { env: cliEnv, log: (l) => failed.push(l) })).toBe(1);
      expect(failed).toEqual(expect.arrayContaining([`FAIL ${MUSICGEN}`, expect.stringContaining("duration: the provider's maximum is 30; the contract allows 300")]));
    } finally {
      await env.db.catalogModel.update({ where: { name: MUSICGEN }, data: { inputContract: row.inputContract as object } });
    }
  });

  it('when a contract offers more than the provider takes, then the check names every such field', async () => {
    const sdxl = modelContract(await getCatalogModel(env.db, SDXL));
    const schema = (await replicate.models.get('stability-ai', 'sdxl')).latest_version!.openapi_schema as OpenApiSchema;
    const loose = {
      input: {
        ...sdxl.input,
        num_inference_steps: { ...sdxl.input.num_inference_steps!, maximum: 1000 },
        guidance_scale: { type: 'string' as const, description: 'wrong type' },
        scheduler: { type: 'string' as const, description: 'not in the schema', enum: ['K_EULER'] },
      },
      protectedInput: { num_outputs: 99 },
    };
    const { problems } = checkContract(loose, schema, { devOnly: true });
    expect(problems).toEqual([
      expect.stringMatching(/^guidance_scale: the contract says string, the provider number/),
      expect.stringMatching(/^num_inference_steps: the provider's maximum is 500/),
      expect.stringMatching(/^scheduler: not in the provider's input schema/),
      expect.stringMatching(/^num_outputs: protected value 99/),
    ]);
  });
});

describe('parameters outside the contract', () => {
  it('when a user sends fields the model does not offer, a protected field and out-of-range values, then 422 names every one and nothing is reserved, written or started', async () => {
    const user = await fundedUser(env, 100);
    const before = await footprint(user);
    const res = await generate(user, {
      model: FLUX,
      prompt: 'x',
      parameters: { disable_safety_checker: true, num_inference_steps: 500, width: 100_000, height: 100_000, aspect_ratio: '7:3' },
    }).expect(422);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.issues).toEqual([
      { field: 'parameters.disable_safety_checker', message: 'set by the service to false; it cannot be changed' },
      { field: 'parameters.num_inference_steps', message: expect.stringContaining('not a parameter of this model; it takes aspect_ratio, height, width, fake_latency_ms, fake_error') },
      { field: 'parameters.width', message: expect.stringContaining('1440') },
      { field: 'parameters.height', message: expect.stringContaining('1440') },
      { field: 'parameters.aspect_ratio', message: expect.stringContaining('"16:9"') },
    ]);
    expect(await footprint(user)).toEqual(before);
  });

  it('when sdxl gets too many steps, a mistyped guidance scale and a size off the grid, then each is reported at once with the other fields', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, {
      model: SDXL,
      prompt: 'x',
      output_format: 'png',
      parameters: { num_inference_steps: 500, guidance_scale: 'high', width: 1001, negative_prompt: 'blur' },
    }).expect(422);
    expect(res.body.error.details.issues.map((i: { field: string }) => i.field)).toEqual([
      'parameters.num_inference_steps',
      'parameters.guidance_scale',
      'parameters.width',
    ]);
    const audio = await generate(user, { model: MUSICGEN, prompt: 'x', num_outputs: 2, parameters: { duration: 600 } }).expect(422);
    expect(audio.body.error.details.issues.map((i: { field: string }) => i.field)).toEqual(['num_outputs', 'parameters.duration']);
    expect((await footprint(user)).jobs).toBe(0);
  });

  it('when a prompt on a trained model carries an unknown field or a protected one, then 422 names each and no prompt is written', async () => {
    const user = await env.createUser();
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api
      .post(`/api/v1/prompts/create/${version.id}`)
      .set(user.auth)
      .send({ prompt: 'TOK', width: 2048, parameters: { lora_scale: 3, disable_safety_checker: true } })
      .expect(422);
    expect(res.body.error.details.issues.map((i: { field: string }) => i.field)).toEqual(['width']);
    const params = await env.api
      .post(`/api/v1/prompts/create/${version.id}`)
      .set(user.auth)
      .send({ prompt: 'TOK', parameters: { lora_scale: 3, disable_safety_checker: true, aspect_ratio: '16:9' } })
      .expect(422);
    expect(params.body.error.details.issues).toEqual([
      { field: 'parameters.lora_scale', message: expect.stringContaining('it takes aspect_ratio') },
      { field: 'parameters.disable_safety_checker', message: expect.stringContaining('set by the service') },
    ]);
    expect(await env.db.prompt.count({ where: { userId: user.id } })).toBe(0);
    expect(await env.db.modelVersion.findUniqueOrThrow({ where: { id: version.id }, select: { imagesReserved: true } })).toEqual({ imagesReserved: 0 });
  });

  it('when the service runs in production, then the local provider knobs and its dev-only fields are rejected like any unknown field', async () => {
    const config = { ...env.config, env: 'production' as const };
    const production = supertest(createApp({ config, logger: createLogger({ level: 'silent', name: 'contract-test' }), temporal: env.temporal, ...env.runtime }));
    const user = await fundedUser(env, 100);
    const before = await footprint(user);
    const res = await generate(user, { model: FLUX, prompt: 'x', parameters: { fake_latency_ms: 10, fake_error: 'boom', width: 512 } }, production).expect(422);
    expect(res.body.error.details.issues).toEqual(
      ['fake_latency_ms', 'fake_error', 'width'].map((name) => ({ field: `parameters.${name}`, message: 'not a parameter of this model; it takes aspect_ratio' })),
    );
    const version = await trainedVersion(env.db, user.id);
    const prompt = await production.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'TOK', parameters: { fake_latency_ms: 10 } }).expect(422);
    expect(prompt.body.error.details.issues).toEqual([{ field: 'parameters.fake_latency_ms', message: 'not a parameter of this model; it takes aspect_ratio' }]);
    expect(await footprint(user)).toEqual(before);
  });
});

describe('the price follows the validated input', () => {
  it('when sdxl runs larger than a megapixel, then each output costs one price step per started 1048576 pixels, reserved up front and committed for what was stored', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, { model: SDXL, prompt: 'wide', num_outputs: 2, parameters: { width: 1536, height: 1024, num_inference_steps: 20 } }).expect(202);
    expect(await env.db.creditBalance.findUniqueOrThrow({ where: { userId: user.id }, select: { credits: true, reserved: true } })).toEqual({ credits: 88, reserved: 12 });
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job).toMatchObject({ status: 'succeeded', credits_spent: 12 });
    expect(job.outputs.map((o: { width: number; height: number }) => [o.width, o.height])).toEqual([[1536, 1024], [1536, 1024]]);
    const meta = await env.api.get(`/api/v1/jobs/${job.job_id}/metadata`).set(user.auth).expect(200);
    expect(meta.body.price).toEqual({ credits: 6, per: 'output' });
    expect(meta.body.provider_input).toMatchObject({ width: 1536, height: 1024, num_inference_steps: 20, disable_safety_checker: false, num_outputs: 2 });
  });

  it('when sdxl and musicgen run with their defaults, then the defaults are sent to the provider and priced; a longer piece costs more', async () => {
    const user = await fundedUser(env, 100);
    const image = (await generate(user, { model: SDXL, prompt: 'default size' }).expect(202)).body.job_id;
    const short = (await generate(user, { model: MUSICGEN, prompt: 'default length' }).expect(202)).body.job_id;
    const long = (await generate(user, { model: MUSICGEN, prompt: 'long', parameters: { duration: 25 } }).expect(202)).body.job_id;
    const jobs = await Promise.all([image, short, long].map((id) => env.waitForJob(user, id)));
    expect(jobs.map((j) => [j.status, j.credits_spent])).toEqual([['succeeded', 3], ['succeeded', 5], ['succeeded', 15]]);
    const inputs = await Promise.all([image, short].map(async (id) => (await env.api.get(`/api/v1/jobs/${id}/metadata`).set(user.auth).expect(200)).body.provider_input));
    expect(inputs[0]).toMatchObject({ width: 1024, height: 1024 });
    expect(inputs[1]).toEqual({ prompt: 'default length', duration: 8, output_format: 'wav' });
    expect(await env.db.creditBalance.findUniqueOrThrow({ where: { userId: user.id }, select: { credits: true, reserved: true } })).toEqual({ credits: 77, reserved: 0 });
  });

  it('when a user lists the models, then each shows the parameters it takes, what the service fixes and its price rule', async () => {
    const user = await env.createUser();
    const { body } = await env.api.get('/api/v1/models').set(user.auth).expect(200);
    const byName = Object.fromEntries(body.items.map((m: { name: string }) => [m.name, m]));
    expect(byName[FLUX].input).toEqual({
      prompt: true,
      file: null,
      parameters: { aspect_ratio: expect.objectContaining({ type: 'string', enum: expect.arrayContaining(['1:1', '16:9']) }) },
      fixed: { disable_safety_checker: false },
    });
    expect(byName[SDXL].input.parameters.num_inference_steps).toMatchObject({ type: 'integer', minimum: 1, maximum: 50 });
    expect(byName[SDXL].price).toEqual({
      credits: 3,
      per: 'output',
      scale: { fields: ['width', 'height'], step: 1048576, unit: 'pixels' },
      summary: '3 credits per output for each started 1048576 pixels of width × height',
    });
    expect(byName[MUSICGEN].price.summary).toBe('5 credits per run for each started 10 seconds of duration');
    // Every field a price scales with is bounded and known before the run: a parameter with a
    // maximum and a default, or the input file's duration (read at upload), bounded by the model.
    for (const model of body.items) {
      for (const field of model.price.scale?.fields ?? []) {
        if (field === 'input_file.duration') {
          expect([model.name, field, model.input.file]).toEqual([model.name, field, expect.objectContaining({ max_duration_seconds: expect.any(Number) })]);
        } else {
          expect([model.name, field, model.input.parameters[field]]).toEqual([model.name, field, expect.objectContaining({ maximum: expect.any(Number), default: expect.any(Number) })]);
        }
      }
    }
  });
});
