/**
 * The local stack (tools/dev/stack.ts) against the real binaries in .tools/bin (`npm run tools`).
 * Starts its own stacks in temp dirs on random ports, independent of the global setup.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import Stripe from 'stripe';
import { dynamicConfigFlags, parseDynamicConfig, readDynamicConfig } from '../../tools/dev/dynamic-config';
import { canConnect } from '../../tools/dev/ports';
import { livePids } from '../../tools/dev/processes';
import { readSearchAttributes, startStack, type RunningStack } from '../../tools/dev/stack';
import { isAlive, withDescendants } from '../../tools/dev/process-tree';

jest.setTimeout(60_000);

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stack-test-'));
}

function s3Client(stack: RunningStack): S3Client {
  return new S3Client({
    endpoint: stack.s3.endpoint,
    region: stack.s3.region,
    forcePathStyle: stack.s3.forcePathStyle,
    credentials: { accessKeyId: stack.s3.accessKeyId, secretAccessKey: stack.s3.secretAccessKey },
  });
}

async function sql<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('dynamic config', () => {
  test('the repo file becomes --dynamic-config-value flags', () => {
    const flags = dynamicConfigFlags(readDynamicConfig());
    expect(flags).toEqual(
      expect.arrayContaining([
        '--dynamic-config-value',
        'history.transferProcessorMaxPollRPS=10000',
        'matching.numTaskqueueReadPartitions=1',
        'matching.numTaskqueueWritePartitions=1',
        'history.timerProcessorMaxTimeShift="10ms"',
      ]),
    );
  });

  test('parser handles the supported subset and rejects the rest', () => {
    const text = [
      '# comment',
      'a.int:',
      '  - value: 5 # trailing comment',
      '    constraints: {}',
      'a.str:',
      '  - value: "x # not a comment"',
      'a.dur:',
      '  - constraints: {}',
      '    value: 100ms',
      'a.bool:',
      '  - value: false',
    ].join('\n');
    expect(dynamicConfigFlags(parseDynamicConfig(text))).toEqual([
      '--dynamic-config-value', 'a.int=5',
      '--dynamic-config-value', 'a.str="x # not a comment"',
      '--dynamic-config-value', 'a.dur="100ms"',
      '--dynamic-config-value', 'a.bool=false',
    ]);
    expect(() => parseDynamicConfig('k:\n  - value: 1\n    constraints:\n      namespace: x\n')).toThrow(/unsupported|constrain/);
    expect(() => parseDynamicConfig('k:\n  - value: 1\n    constraints: {namespace: "x"}\n')).toThrow(/JSON|constrain/);
    expect(() => parseDynamicConfig('  - value: 1\n')).toThrow(/expected 'some.key:'/);
  });
});

describe('local stack', () => {
  test('a busy fixed port fails with a clear message and starts nothing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = tempDir();
    try {
      await expect(
        startStack({
          dataDir,
          persistent: false,
          ports: { stripeMock: port },
          components: { postgres: false, temporal: false, minio: false },
        }),
      ).rejects.toThrow(new RegExp(`stripe-mock port ${port} .*already in use.*STRIPE_MOCK_PORT`));
      expect(livePids()).toEqual([]);
    } finally {
      blocker.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('starts every component on random ports; stop leaves nothing running', async () => {
    const dataDir = tempDir();
    const lines: string[] = [];
    const t0 = Date.now();
    const stack = await startStack({ dataDir, persistent: false, log: (l) => lines.push(l) });
    const startMs = Date.now() - t0;
    let stopped = false;
    try {
      // Postgres
      expect(await sql(stack.databaseUrl, 'select 1 as one')).toEqual([{ one: 1 }]);

      // Temporal: healthy, with every custom search attribute
      const connection = await Connection.connect({ address: stack.temporal.address });
      try {
        expect((await connection.healthService.check({})).status).toBe(1);
        const { customAttributes } = await connection.operatorService.listSearchAttributes({
          namespace: stack.temporal.namespace,
        });
        for (const name of Object.keys(readSearchAttributes())) expect(customAttributes?.[name]).toBe(KEYWORD);
      } finally {
        await connection.close();
      }

      // MinIO: the bucket exists, put + get
      const s3 = s3Client(stack);
      try {
        await s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: 'hello.txt', Body: 'hi there' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: stack.s3.bucket, Key: 'hello.txt' }));
        expect(await got.Body!.transformToString()).toBe('hi there');
      } finally {
        s3.destroy();
      }

      // stripe-mock, through the SDK configured the way the app will be
      const stripe = new Stripe('sk_test_123', { ...stack.stripe, maxNetworkRetries: 0 });
      const customer = await stripe.customers.create({ email: 'a@example.com' });
      expect(customer.id).toMatch(/^cus_/);

      // stop: every child and grandchild is gone, ports closed, temp data deleted
      const pids = livePids();
      expect(pids).toHaveLength(4);
      const tree = withDescendants(pids);
      await stack.stop();
      stopped = true;
      await stack.stop(); // idempotent
      expect(livePids()).toEqual([]);
      expect(tree.filter(isAlive)).toEqual([]);
      const ports = [Number(new URL(stack.databaseUrl).port), stack.stripe.port, Number(stack.temporal.address.split(':')[1])];
      for (const p of ports) expect(await canConnect(p)).toBe(false);
      expect(fs.existsSync(dataDir)).toBe(false);
      console.log(`stack started in ${startMs} ms:\n${lines.join('\n')}`);
    } finally {
      if (!stopped) await stack.stop();
    }
  });

  test('persistent data survives a restart', async () => {
    const dataDir = tempDir();
    const lines: string[] = [];
    try {
      // first run: write a row, an object and a workflow
      let stack = await startStack({ dataDir, persistent: true, log: (l) => lines.push(`run 1 ${l}`) });
      try {
        await sql(stack.databaseUrl, "create table kept (v text); insert into kept values ('still here')");
        const s3 = s3Client(stack);
        await s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: 'kept.txt', Body: 'object kept' }));
        s3.destroy();
        const connection = await Connection.connect({ address: stack.temporal.address });
        await new TemporalClient({ connection, namespace: stack.temporal.namespace }).workflow.start('noSuchWorkflow', {
          taskQueue: 'stack-test',
          workflowId: 'kept-workflow',
        });
        await connection.close();
      } finally {
        await stack.stop();
      }
      expect(livePids()).toEqual([]);
      expect(fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);

      // second run on the same data dir
      stack = await startStack({ dataDir, persistent: true, log: (l) => lines.push(`run 2 ${l}`) });
      try {
        expect(lines.filter((l) => l.includes('cluster initialised'))).toHaveLength(1); // not re-initialised
        expect(await sql(stack.databaseUrl, 'select v from kept')).toEqual([{ v: 'still here' }]);
        const s3 = s3Client(stack);
        const got = await s3.send(new GetObjectCommand({ Bucket: stack.s3.bucket, Key: 'kept.txt' }));
        expect(await got.Body!.transformToString()).toBe('object kept');
        s3.destroy();
        const connection = await Connection.connect({ address: stack.temporal.address });
        try {
          const client = new TemporalClient({ connection, namespace: stack.temporal.namespace });
          const description = await client.workflow.getHandle('kept-workflow').describe();
          expect(description.status.name).toBe('RUNNING');
          const { customAttributes } = await connection.operatorService.listSearchAttributes({
            namespace: stack.temporal.namespace,
          });
          for (const name of Object.keys(readSearchAttributes())) expect(customAttributes?.[name]).toBe(KEYWORD);
        } finally {
          await connection.close();
        }
      } finally {
        await stack.stop();
      }
      expect(fs.existsSync(dataDir)).toBe(true); // persistent: kept
      console.log(lines.join('\n'));
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
