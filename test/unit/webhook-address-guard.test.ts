import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from '../../src/config';
import { isLoopback, isPublicAddress, nat64Embedded } from '../../src/provider/output-fetch';
import { checkWebhookTarget, postWebhook, WebhookUrlRefused } from '../../src/webhooks-out/send';
import { MINIMAL_ENV } from '../helpers/config';

/**
 * The outbound webhook address guard: which addresses count as public, and a delivery that
 * connects to the address it checked, whatever DNS answers next.
 */

describe('address classification', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['0.0.0.0', 'this host'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['::1', 'IPv6 loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['febf:ffff::1', 'IPv6 link-local, end of fe80::/10'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local, hex form'],
    ['64:ff9b::10.0.0.1', 'NAT64 of a private address'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of link-local'],
    ['64:ff9b:1::8.8.8.8', 'local-use NAT64'],
    ['224.0.0.1', 'multicast'],
    ['not-an-address', 'not an address'],
  ])('when the address is %s (%s), then it is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each([['8.8.8.8'], ['1.1.1.1'], ['2606:4700:4700::1111'], ['::ffff:8.8.8.8'], ['64:ff9b::8.8.8.8'], ['64:ff9b::808:808']])(
    'when the address is %s, then it is public',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

  it('when a NAT64 address carries an IPv4 address, then that address is read from its last 32 bits', () => {
    expect(nat64Embedded('64:ff9b::a00:1')).toBe('10.0.0.1');
    expect(nat64Embedded('64:ff9b::192.168.0.7')).toBe('192.168.0.7');
    expect(nat64Embedded('2001:db8::1')).toBeNull();
  });

  it('when an address is loopback in any of its forms, then it is loopback, and nothing else is', () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '64:ff9b::127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '8.8.8.8']) expect(isLoopback(a)).toBe(false);
  });
});

describe('checkWebhookTarget', () => {
  const answers = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const refused = (url: string, opts: Parameters<typeof checkWebhookTarget>[1]) => expect(checkWebhookTarget(new URL(url), opts)).rejects.toBeInstanceOf(WebhookUrlRefused);

  it('when loopback is not allowed, then loopback, private, mapped and NAT64 targets are refused, by literal or by name', async () => {
    const off = { allowLoopback: false };
    for (const url of ['https://127.0.0.1/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://[::ffff:10.0.0.1]/', 'https://[64:ff9b::a00:1]/', 'https://169.254.169.254/', 'https://[fe80::1]/', 'https://[fd00::1]/']) {
      await refused(url, off);
    }
    await refused('https://hooks.example.test/', { ...off, resolve: answers('10.1.2.3') });
    // One bad address among good ones is enough.
    await refused('https://hooks.example.test/', { ...off, resolve: answers('8.8.8.8', '::ffff:192.168.0.1') });
    await refused('http://localhost:8080/', { ...off, resolve: answers('127.0.0.1') });
    await refused('http://hooks.example.test/', { ...off, resolve: answers('8.8.8.8') });
  });

  it('when a name resolves to public addresses only, then https is allowed and the first address is the one to connect to', async () => {
    await expect(checkWebhookTarget(new URL('https://hooks.example.test/'), { allowLoopback: false, resolve: answers('8.8.8.8', '2606:4700:4700::1111') })).resolves.toEqual({ address: '8.8.8.8', family: 4 });
  });

  it('when loopback is allowed, then loopback (over http too) is allowed, and private or link-local addresses still are not', async () => {
    const on = { allowLoopback: true };
    await expect(checkWebhookTarget(new URL('http://127.0.0.1:9/'), on)).resolves.toEqual({ address: '127.0.0.1', family: 4 });
    await expect(checkWebhookTarget(new URL('http://localhost:9/'), { ...on, resolve: answers('::1') })).resolves.toEqual({ address: '::1', family: 6 });
    await refused('http://10.0.0.1/', on);
    await refused('https://169.254.169.254/', on);
    await refused('http://hooks.example.test/', { ...on, resolve: answers('8.8.8.8') });
  });
});

describe('postWebhook', () => {
  it('when DNS answers differently after the check, then the connection still goes to the checked address', async () => {
    const received: string[] = [];
    const server = http.createServer((req, res) => {
      received.push(`${req.method} ${req.headers.host} ${req.headers['webhook-id']}`);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let lookups = 0;
    // First answer: loopback (checked and allowed); any later one: the cloud metadata address.
    const resolve = async () => [{ address: lookups++ === 0 ? '127.0.0.1' : '169.254.169.254', family: 4 }];
    try {
      const answer = await postWebhook({
        url: `http://rebinding.example.test:${port}/hook`,
        id: 'evt_1',
        body: '{}',
        secrets: ['whsec_dGVzdA=='],
        allowLoopback: true,
        resolve,
        connectTimeoutMs: 2000,
        timeoutMs: 4000,
      });
      expect(answer.status).toBe(200);
      expect(received).toEqual([`POST rebinding.example.test:${port} evt_1`]);
      expect(lookups).toBe(1);
    } finally {
      server.close();
    }
  });

  it('when the name resolves to a private address, then nothing is sent', async () => {
    await expect(
      postWebhook({ url: 'https://hooks.example.test/', id: 'evt_2', body: '{}', secrets: ['whsec_dGVzdA=='], allowLoopback: false, resolve: async () => [{ address: '10.0.0.8', family: 4 }], connectTimeoutMs: 100, timeoutMs: 200 }),
    ).rejects.toBeInstanceOf(WebhookUrlRefused);
  });
});

describe('WEBHOOK_ALLOW_LOOPBACK', () => {
  it('when it is not set, then the guard allows no loopback; only an explicit true allows it, and production refuses to start with it', () => {
    expect(loadConfig(MINIMAL_ENV).webhooks.allowLoopback).toBe(false);
    expect(loadConfig({ ...MINIMAL_ENV, NODE_ENV: 'development' }).webhooks.allowLoopback).toBe(false);
    expect(loadConfig({ ...MINIMAL_ENV, WEBHOOK_ALLOW_LOOPBACK: 'true' }).webhooks.allowLoopback).toBe(true);
    let error: unknown;
    try {
      loadConfig({ ...MINIMAL_ENV, NODE_ENV: 'production', WEBHOOK_ALLOW_LOOPBACK: 'true' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toContain('WEBHOOK_ALLOW_LOOPBACK: must not be true in production');
  });
});
